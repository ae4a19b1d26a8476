"""eiwa against flair's SequenceTagger, same architecture, same data, same machine, one run.

Set-up (once; flair gets a virtual environment of its own and never becomes an eiwa dependency):

    benchmarks/setup-flair.sh
    .venv/bin/python benchmarks/versus_flair.py                 # both data sets, 5 epochs, 2 threads
    .venv/bin/python benchmarks/versus_flair.py --data stockmark --epochs 3 --threads 1

For each data set (CoNLL-2003 English; the Stockmark Japanese set on the shared split), both
taggers train the same architecture (trainable 100-dim words with rare words left to the unknown
word, a 25+25 character BiLSTM, one word-level BiLSTM of 100 per direction, dropout 0.5, CRF,
BIOES) with Adam at 0.002, the same batch size, epochs and torch threads, evaluate dev after
every epoch (that time counts as training), and tag the test set. eiwa keeps its best dev epoch
(reported; with few epochs it is the last) and flair its last, because flair 0.15.1's reload of its
best-model.pt loses the weights of this embedding stack. Each runs in a process of its own, so peak
resident memory is its own.
Reported per tool: training sentences/s (epochs x training sentences / training seconds),
test-set inference tokens/s and sentences/s (pre-tokenized, after a warm-up on dev, median of 3;
eiwa's figure includes turning strings into ids, as flair's does), eiwa's end-to-end raw-text
sentences/s (a fresh process: tokenizer, romanizer and model on test texts it has never seen, after
a warm-up on dev texts), peak resident memory, and test F1 (both scored by eiwa's scorer on the
same gold spans). Writes a JSON and a Markdown table. Not part of the test suite.

eiwa's Japanese input is its recommended setting (native words, romaji character bigrams); flair's
character module reads the native characters, which is the only input flair has.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from eiwa.study.folds import shared_split

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
DATASETS = {
    "conll03": {"lang": "en", "format": "conll", "config": {}},
    "stockmark": {"lang": "ja", "format": "spans", "config": {"word_input": "native", "char_input": "romaji"}},
}


def read_dataset(name: str, shared: Path):
    """(train, dev, test) eiwa sentences; training tokens are split at entity boundaries, as eiwa trains."""
    from eiwa.readers import read

    if name == "conll03":
        base = shared / "conll2003"
        return (
            read(base / "train.txt", "conll", "en", split_tokens=True).sentences,
            read(base / "valid.txt", "conll", "en").sentences,
            read(base / "test.txt", "conll", "en").sentences,
        )
    path = shared / "stockmark-wikipedia-ner" / "ner.json"
    split = read(path, "spans", "ja", split_tokens=True).sentences
    whole = read(path, "spans", "ja").sentences
    train, dev, test = shared_split(len(whole))
    return [split[i] for i in train], [whole[i] for i in dev], [whole[i] for i in test]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- eiwa's side


def eiwa_side(args) -> None:
    import torch

    from eiwa.config import Config
    from eiwa.training.train import train

    spec = DATASETS[args.data]
    train_set, dev, test = read_dataset(args.data, args.shared)
    config = replace(
        Config(lang=spec["lang"]),
        **spec["config"],
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        patience=args.epochs + 1,
        threads=args.threads,
        seed=args.seed,
    ).validate()
    started = time.perf_counter()
    result = train(config, train_set, dev, out=args.work / "eiwa-model", progress=False, log=lambda _: None)
    train_seconds, tagger = time.perf_counter() - started, result.tagger

    tagger.tag_sentences(dev)  # warm-up
    started = time.perf_counter()
    spans = tagger.tag_encoded(tagger.encoder.encode(test, with_tags=False))  # strings -> ids -> spans, first pass
    tag_seconds = time.perf_counter() - started
    encoded = tagger.encoder.encode(test, with_tags=False)
    model_times = []
    for _ in range(3):
        started = time.perf_counter()
        tagger.tag_encoded(encoded)
        model_times.append(time.perf_counter() - started)
    write_json(
        args.work / "eiwa.json",
        {
            "tool": "eiwa",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "train_seconds": train_seconds,
            "best_epoch": result.best_epoch,
            "tag_seconds": tag_seconds,
            "model_only_seconds": statistics.median(model_times),
            "peak_rss_mb": peak_rss_mb(),
            "predicted": spans,
        },
    )


def eiwa_raw_side(args) -> None:
    """A fresh process, so that no test string has been through the tokenizer or romanizer caches."""
    import torch

    import eiwa

    torch.set_num_threads(args.threads)
    dev_texts, test_texts = raw_texts(args.data, args.shared)
    tagger = eiwa.load(args.work / "eiwa-model")
    tagger.predict(dev_texts)  # warm-up
    started = time.perf_counter()
    tagger.predict(test_texts)
    seconds = time.perf_counter() - started
    write_json(args.work / "eiwa-raw.json", {"raw_seconds": seconds, "raw_sentences": len(test_texts)})


def raw_texts(name: str, shared: Path) -> tuple[list[str], list[str]]:
    """Dev and test texts, read without tokenizing them (that would warm the caches)."""
    if name == "conll03":
        from eiwa.readers import read

        return tuple(
            [s.text for s in read(shared / "conll2003" / part, "conll", "en").sentences]
            for part in ("valid.txt", "test.txt")
        )
    records = json.loads((shared / "stockmark-wikipedia-ner" / "ner.json").read_text(encoding="utf-8"))
    _, dev, test = shared_split(len(records))
    return [records[i]["text"] for i in dev], [records[i]["text"] for i in test]


# ----------------------------------------------------------------------------- the driver


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def run(command: list[str], log: Path) -> None:
    with open(log, "w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"{' '.join(command[:3])} … failed (exit {done.returncode}); see {log}")


def score_spans(test, predicted) -> dict:
    from eiwa.scoring import score

    gold = [[e.as_tuple() for e in s.entities] for s in test]
    found = [
        [(s.offsets[a][0], s.offsets[b - 1][1], kind) for a, b, kind in spans] for s, spans in zip(test, predicted)
    ]
    return score(gold, found).to_dict()


def compare(args, name: str) -> dict:
    work = args.work_root / name
    shutil.rmtree(work, ignore_errors=True)  # models of an earlier run would be reused or refused
    work.mkdir(parents=True)
    train_set, dev, test = read_dataset(name, args.shared)
    for part, sentences in (("train", train_set), ("dev", dev), ("test", test)):
        write_json(work / f"{part}.json", [{"tokens": s.words, "spans": s.token_spans()} for s in sentences])
    common = [
        "--work",
        str(work),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
    ]
    me = [sys.executable, __file__, "--data", name, "--shared", str(args.shared)]
    print(f"{name}: eiwa training…", flush=True)
    run([*me, "--side", "eiwa", *common], work / "eiwa.log")
    run([*me, "--side", "eiwa-raw", *common], work / "eiwa-raw.log")
    print(f"{name}: flair training…", flush=True)
    run([str(args.flair_python), str(HERE / "flair_side.py"), *common], work / "flair.log")

    tokens = sum(len(s) for s in test)
    rows = {}
    for tool in ("eiwa", "flair"):
        result = json.loads((work / f"{tool}.json").read_text(encoding="utf-8"))
        row = {
            "tool": result["tool"],
            "threads": result["threads"],
            "train_sentences_per_second": args.epochs * len(train_set) / result["train_seconds"],
            "train_seconds": result["train_seconds"],
            "test_tokens_per_second": tokens / result["tag_seconds"],
            "test_sentences_per_second": len(test) / result["tag_seconds"],
            "peak_rss_mb": result["peak_rss_mb"],
            **{
                f"test_{k}": v
                for k, v in score_spans(test, result["predicted"]).items()
                if k in ("precision", "recall", "f1")
            },
        }
        if tool == "eiwa":
            row["best_epoch"] = result["best_epoch"]
            raw = json.loads((work / "eiwa-raw.json").read_text(encoding="utf-8"))
            row["model_only_tokens_per_second"] = tokens / result["model_only_seconds"]
            row["raw_text_sentences_per_second"] = raw["raw_sentences"] / raw["raw_seconds"]
        rows[tool] = row
    return {
        "data": name,
        "train_sentences": len(train_set),
        "test_sentences": len(test),
        "test_tokens": tokens,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        **rows,
        "ratio_train": rows["eiwa"]["train_sentences_per_second"] / rows["flair"]["train_sentences_per_second"],
        "ratio_inference": rows["eiwa"]["test_tokens_per_second"] / rows["flair"]["test_tokens_per_second"],
        "f1_difference": rows["eiwa"]["test_f1"] - rows["flair"]["test_f1"],
    }


def markdown(results: list[dict], machine: str) -> str:
    def number(value):
        return "–" if value is None else f"{value:,.0f}"

    lines = [
        f"Machine: {machine}.",
        "",
        "| data | tool | train sent/s | test tok/s | test sent/s | eiwa model-only tok/s | raw text sent/s "
        "| peak RSS MB | test F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for tool in ("eiwa", "flair"):
            row = r[tool]
            kept = f"epoch {row['best_epoch']}" if "best_epoch" in row else "last epoch"
            cells = [
                f"{r['data']} ({r['epochs']} epochs, batch {r['batch_size']}; {kept})",
                row["tool"],
                number(row["train_sentences_per_second"]),
                number(row["test_tokens_per_second"]),
                number(row["test_sentences_per_second"]),
                number(row.get("model_only_tokens_per_second")),
                number(row.get("raw_text_sentences_per_second")),
                number(row["peak_rss_mb"]),
                f"{row['test_f1']:.4f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append(
            f"| {r['data']} | **eiwa / flair** | **{r['ratio_train']:.1f}×** "
            f"| **{r['ratio_inference']:.1f}×** | | | | | "
            f"**{r['f1_difference']:+.4f}** |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="conll03,stockmark", help="comma-separated: conll03, stockmark")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--flair-python", type=Path, default=HERE / ".flair-venv" / "bin" / "python")
    parser.add_argument("--work-root", type=Path, default=HERE.parent / "runs" / "versus-flair")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "versus-flair")
    parser.add_argument("--side", choices=["eiwa", "eiwa-raw"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "eiwa":
        return eiwa_side(args)
    if args.side == "eiwa-raw":
        return eiwa_raw_side(args)
    if not args.flair_python.exists():
        sys.exit(f"{args.flair_python} not found: run benchmarks/setup-flair.sh first")
    names = args.data.split(",")
    unknown = set(names) - set(DATASETS)
    if unknown:
        sys.exit(f"unknown data set(s) {', '.join(sorted(unknown))}; choose from {', '.join(DATASETS)}")
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.python_version()}, {args.threads} torch threads"
    )
    results = [compare(args, name) for name in names]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out.with_suffix(".json"), {"machine": machine, "results": results})
    table = markdown(results, machine)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
