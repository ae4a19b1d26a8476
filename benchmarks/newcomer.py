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

with --seed N --set threads=1 --out WORK/<arm>-<seed>. `--variant NAME="ARGS"` adds a transfer arm
with ARGS appended (e.g. --variant lower-lr="--fine-tune lower-lr"), for trying changes on dev. A
finished model is not trained again, so an interrupted benchmark continues where it stopped. Each
model is then scored on test.jsonl (entity-level exact match on character spans). The report (printed
as Markdown and saved as WORK/report.json), per arm: best dev F1 and test F1 per seed, mean ± sample
std; for each transfer arm the paired difference from scratch with the study's approximate-randomization
p over all seeds' test sentences pooled (eiwa.study.stats), and the label map it chose.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
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
SCRATCH = "scratch"


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
        text = "".join(doccano_line(records[i]) + "\n" for i in indices)
        if not paths[name].exists() or paths[name].read_text(encoding="utf-8") != text:  # runs may be reading it
            paths[name].write_text(text, encoding="utf-8")
        print(f"{paths[name]}: {len(indices):,} sentences")
    return paths


def command(arm: str, seed: int, paths: dict[str, Path], out: Path) -> list[str]:
    return [
        sys.executable, "-m", "eiwa", *ARMS[arm],
        "--train", str(paths["train"]), "--dev", str(paths["dev"]),
        "--seed", str(seed), "--set", "threads=1", "--out", str(out),
    ]  # fmt: skip


def train(arm: str, seed: int, paths: dict[str, Path], work: Path) -> None:
    """One training in its own process (its console output in WORK/<arm>-<seed>.log)."""
    out = work / f"{arm}-{seed}"
    if (out / "meta.json").exists():
        return
    with open(work / f"{arm}-{seed}.log", "w", encoding="utf-8") as log:
        done = subprocess.run(command(arm, seed, paths, out), stdout=log, stderr=subprocess.STDOUT, env=os.environ)
    if done.returncode:
        raise SystemExit(f"{arm} seed {seed} failed (exit {done.returncode}): see {work / f'{arm}-{seed}.log'}")


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


def report(scores: dict[str, dict[int, dict]], seeds: list[int]) -> dict:
    """Per arm: dev and test F1 per seed, mean ± std, best epochs; for transfer arms, against scratch."""
    from eiwa.study.stats import approximate_randomization, mean_std

    pooled = {arm: np.concatenate([np.asarray(scores[arm][s]["counts"]) for s in seeds]) for arm in scores}
    result = {"seeds": seeds, "arms": {}}
    for arm, by_seed in scores.items():
        metas = [by_seed[s]["meta"] for s in seeds]
        f1s, dev_f1s = [by_seed[s]["f1"] for s in seeds], [m["training"]["best_dev_f1"] for m in metas]
        entry = {
            "f1_per_seed": f1s,
            "f1_mean_std": mean_std(f1s),
            "dev_f1_per_seed": dev_f1s,
            "dev_f1_mean_std": mean_std(dev_f1s),
            "best_epochs": [f"{m['training']['best_epoch']}/{m['training']['epochs']}" for m in metas],
        }
        if arm != SCRATCH:
            entry["difference"] = entry["f1_mean_std"][0] - statistics.fmean(scores[SCRATCH][s]["f1"] for s in seeds)
            entry["differences_per_seed"] = [f - scores[SCRATCH][s]["f1"] for f, s in zip(f1s, seeds)]
            entry["p_value"] = approximate_randomization(pooled[arm], pooled[SCRATCH])
            entry["label_maps"] = [_pairs(m.get("transfer", {}).get("label_map", {})) for m in metas]
            entry["modules"] = [",".join(m.get("transfer", {}).get("modules", [])) for m in metas]
        result["arms"][arm] = entry
    return result


def _pairs(label_map: dict) -> str:
    return ",".join(f"{s}={t}" for s, targets in sorted(label_map.items()) for t in targets)


def markdown(result: dict) -> str:
    lines = [
        "| arm | test F1 (mean ± std) | per seed | Δ vs scratch (per seed) | p | dev F1 (mean) | best epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm, entry in result["arms"].items():
        mean, std = entry["f1_mean_std"]
        per_seed = ", ".join(f"{f1:.4f}" for f1 in entry["f1_per_seed"])
        difference, p = "", ""
        if "difference" in entry:
            differences = ", ".join(f"{d:+.4f}" for d in entry["differences_per_seed"])
            difference, p = f"{entry['difference']:+.4f} ({differences})", f"{entry['p_value']:.4f}"
        lines.append(
            f"| {arm} | {mean:.4f} ± {std:.4f} | {per_seed} | {difference} | {p} | "
            f"{entry['dev_f1_mean_std'][0]:.4f} | {', '.join(entry['best_epochs'])} |"
        )
    for arm, entry in result["arms"].items():
        for seed, modules, pairs in zip(result["seeds"], entry.get("modules", []), entry.get("label_maps", [])):
            lines.append(f"{arm} seed {seed}: modules {modules}; --label-map {pairs}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="Stockmark's ner.json")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "eiwa-newcomer")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--workers", type=int, default=2, help="trainings at once (one thread each)")
    parser.add_argument("--variant", action="append", default=[], metavar='NAME="ARGS"', help="another transfer arm")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for variant in args.variant:
        name, _, extra = variant.partition("=")
        ARMS[f"transfer-{name}"] = [*ARMS["transfer"], *shlex.split(extra)]
    args.work.mkdir(parents=True, exist_ok=True)
    paths = prepare(args.data.resolve(), args.work)
    runs = [(arm, seed) for seed in seeds for arm in ARMS]
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        list(pool.map(lambda run: train(*run, paths, args.work), runs))
    from eiwa.readers import read

    test = read(paths["test"], "doccano", "ja", split_tokens=False).sentences
    scores = {arm: {seed: score_model(args.work / f"{arm}-{seed}", test) for seed in seeds} for arm in ARMS}
    result = report(scores, seeds)
    (args.work / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
