"""The newcomer's case: a user's own 300 Japanese sentences, exported from Doccano under their own
type names, trained from scratch and by eiwa's default transfer path; 3 seeds, scored on the rest.

    .venv/bin/python benchmarks/newcomer.py                      # everything: data, 6 trainings, report
    .venv/bin/python benchmarks/newcomer.py --seeds 1 --work /tmp/newcomer-try

Data (deterministic; read from ../shared/data/stockmark-wikipedia-ner/ner.json and written only to
--work, outside the repository): the shared protocol's index rule (sentence i is dev when
i % 10 == 8, test when i % 10 == 9, train otherwise) picks the first 300 sentences of its training
part as train.jsonl and the first 100 of its dev part as dev.jsonl; every other sentence of the set
(4,943) is test.jsonl. The types are renamed as a user's annotation project would name them
(`TYPES`), and the files are Doccano's JSONL export ({"text", "label": [[start, end, type]]}).

Arms, each a separate `eiwa` process with --set threads=1 (at most --workers at once):

* scratch:  eiwa train --lang ja --format doccano --config ja-small --train train.jsonl --dev dev.jsonl
* transfer: eiwa transfer --source conll03-en-shared --lang ja --format doccano --config ja-small
            --train train.jsonl --dev dev.jsonl      (default --modules and --label-map)

with --seed N --set threads=1 --out WORK/<arm>-<seed>. A finished model is not trained again, so an
interrupted benchmark continues where it stopped. Each model is then scored on test.jsonl (entity-level
exact match on character spans). The report (printed as Markdown and saved as WORK/report.json): test
F1 per seed, mean ± sample std, the paired difference of means with the study's approximate-randomization
p over all seeds' test sentences pooled (eiwa.study.stats), and the label map the transfer chose.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "stockmark-wikipedia-ner" / "ner.json"
TYPES = {
    "人名": "PERSON",
    "法人名": "COMPANY",
    "政治的組織名": "POLITICAL_ORG",
    "その他の組織名": "ORG",
    "地名": "LOCATION",
    "施設名": "FACILITY",
    "製品名": "PRODUCT",
    "イベント名": "EVENT",
}
TRAIN_SIZE, DEV_SIZE = 300, 100
SOURCE = "conll03-en-shared"
COMMON = ["--lang", "ja", "--format", "doccano", "--config", "ja-small"]
ARMS = {
    "scratch": ["train", *COMMON],
    "transfer": ["transfer", "--source", SOURCE, *COMMON],
}


def doccano_line(record: dict) -> str:
    labels = [[e["span"][0], e["span"][1], TYPES[e["type"]]] for e in record["entities"]]
    return json.dumps({"text": record["text"], "label": labels}, ensure_ascii=False)


def prepare(data: Path, work: Path) -> dict[str, Path]:
    """train.jsonl, dev.jsonl and test.jsonl in `work`, as the module docstring says."""
    records = json.loads(data.read_text(encoding="utf-8"))
    train = [i for i in range(len(records)) if i % 10 not in (8, 9)][:TRAIN_SIZE]
    dev = [i for i in range(len(records)) if i % 10 == 8][:DEV_SIZE]
    taken = set(train) | set(dev)
    parts = {"train": train, "dev": dev, "test": [i for i in range(len(records)) if i not in taken]}
    paths = {}
    for name, indices in parts.items():
        paths[name] = work / f"{name}.jsonl"
        paths[name].write_text("".join(doccano_line(records[i]) + "\n" for i in indices), encoding="utf-8")
        print(f"{paths[name]}: {len(indices):,} sentences")
    return paths


def command(arm: str, seed: int, paths: dict[str, Path], out: Path) -> list[str]:
    return [
        sys.executable, "-m", "eiwa", *ARMS[arm],
        "--train", str(paths["train"]), "--dev", str(paths["dev"]),
        "--seed", str(seed), "--set", "threads=1", "--out", str(out),
    ]  # fmt: skip


def train(arm: str, seed: int, paths: dict[str, Path], work: Path) -> float:
    """One training in its own process (its console output in WORK/<arm>-<seed>.log); seconds taken."""
    out = work / f"{arm}-{seed}"
    if (out / "meta.json").exists():
        return 0.0
    started = time.perf_counter()
    with open(work / f"{arm}-{seed}.log", "w", encoding="utf-8") as log:
        done = subprocess.run(command(arm, seed, paths, out), stdout=log, stderr=subprocess.STDOUT, env=os.environ)
    if done.returncode:
        raise SystemExit(f"{arm} seed {seed} failed (exit {done.returncode}): see {work / f'{arm}-{seed}.log'}")
    return time.perf_counter() - started


def score_model(model: Path, test) -> dict:
    """Test scores of one model, with per-sentence counts for the paired test."""
    import torch

    from eiwa.scoring import score
    from eiwa.study.stats import sentence_counts
    from eiwa.tagger import Tagger

    torch.set_num_threads(1)
    tagger = Tagger.load(model)
    gold = [[e.as_tuple() for e in s.entities] for s in test]
    predicted = [[e.as_tuple() for e in spans] for spans in tagger.tag_sentences(test)]
    result = score(gold, predicted).to_dict()
    return {
        "f1": result["f1"],
        "precision": result["precision"],
        "recall": result["recall"],
        "counts": [sentence_counts(g, p) for g, p in zip(gold, predicted)],
        "meta": tagger.meta,
    }


def report(scores: dict[str, dict[int, dict]], seeds: list[int], seconds: dict) -> dict:
    from eiwa.study.stats import approximate_randomization, mean_std

    summary = {}
    for arm in ARMS:
        f1s = [scores[arm][seed]["f1"] for seed in seeds]
        mean, std = mean_std(f1s)
        summary[arm] = {"f1_per_seed": f1s, "f1_mean": mean, "f1_std": std}
    pooled = {arm: np.concatenate([np.asarray(scores[arm][seed]["counts"]) for seed in seeds]) for arm in ARMS}
    transfer_meta = {seed: scores["transfer"][seed]["meta"].get("transfer", {}) for seed in seeds}
    return {
        "seeds": seeds,
        **summary,
        "difference": summary["transfer"]["f1_mean"] - summary["scratch"]["f1_mean"],
        "p_value": approximate_randomization(pooled["transfer"], pooled["scratch"]),
        "differences_per_seed": [scores["transfer"][s]["f1"] - scores["scratch"][s]["f1"] for s in seeds],
        "label_map": {seed: meta.get("label_map") for seed, meta in transfer_meta.items()},
        "modules": {seed: meta.get("modules") for seed, meta in transfer_meta.items()},
        "best_epochs": {
            arm: {seed: scores[arm][seed]["meta"].get("training", {}).get("best_epoch") for seed in seeds}
            for arm in ARMS
        },
        "train_seconds": seconds,
    }


def markdown(result: dict) -> str:
    seeds = result["seeds"]
    lines = ["| arm | test F1 (mean ± std) | per seed |", "|---|---|---|"]
    for arm in ARMS:
        per_seed = ", ".join(f"{f1:.4f}" for f1 in result[arm]["f1_per_seed"])
        lines.append(f"| {arm} | {result[arm]['f1_mean']:.4f} ± {result[arm]['f1_std']:.4f} | {per_seed} |")
    per_seed = ", ".join(f"{d:+.4f}" for d in result["differences_per_seed"])
    lines.append(f"\ntransfer − scratch: {result['difference']:+.4f} (per seed {per_seed}; paired p = "
                 f"{result['p_value']:.4f}, {len(seeds)} seeds' test sentences pooled)")  # fmt: skip
    for seed in seeds:
        label_map = result["label_map"][seed] or {}
        pairs = ",".join(f"{s}={t}" for s, targets in sorted(label_map.items()) for t in targets)
        lines.append(f"seed {seed}: modules {','.join(result['modules'][seed] or [])}; label map {pairs}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="Stockmark's ner.json")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "eiwa-newcomer")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--workers", type=int, default=2, help="trainings at once (one thread each)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    paths = prepare(args.data.resolve(), args.work)
    runs = [(arm, seed) for seed in seeds for arm in ARMS]
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        seconds = dict(zip(runs, pool.map(lambda run: train(*run, paths, args.work), runs)))
    from eiwa.readers import read

    test = read(paths["test"], "doccano", "ja", split_tokens=False).sentences
    scores = {arm: {seed: score_model(args.work / f"{arm}-{seed}", test) for seed in seeds} for arm in ARMS}
    result = report(scores, seeds, {f"{arm}-{seed}": round(s, 1) for (arm, seed), s in seconds.items()})
    (args.work / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
