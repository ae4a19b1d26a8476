"""spaCy peer seeds on Hironsan, standalone (peers.py needs eiwa.readers, which is mid-refactor).

    benchmarks/setup-peers.sh        # once: benchmarks/.peers-venv
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        nice -n 19 .venv/bin/python benchmarks/spacy_seeds.py --seeds 2,3 --out runs/spacy-seeds/hironsan.json

The same folds and tokens as peers.py and crf_peer.py: the 500 Hironsan sentences (train split
then test split, full-width-space rows restored as U+3000), corpus tokens and IOB2 tags; fold k
holds sentence i when i % 5 == k and is tagged by a model trained on all of the other four folds.
Training and tagging run in benchmarks/.peers-venv through benchmarks/peers_side.py (spaCy's NER
from scratch, 30 epochs, as for seed 1); predictions are pooled over the folds and scored
entity-level, exact match, micro P/R/F1. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from crf_peer import hironsan_sentences, score  # noqa: E402

from eiwa.tags import spans_from_tags as spans_from_iob2  # noqa: E402  (conlleval-compatible spans)


def iob2(tags: list[str]) -> list[str]:
    """Tags rewritten from their (conlleval) spans, so every entity starts with B-."""
    out = ["O"] * len(tags)
    for a, b, kind in spans_from_iob2(tags):
        out[a:b] = [f"B-{kind}"] + [f"I-{kind}"] * (b - a - 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="2,3")
    parser.add_argument("--python", type=Path, default=HERE / ".peers-venv" / "bin" / "python")
    parser.add_argument("--work-root", type=Path, default=HERE.parent / "runs" / "spacy-seeds" / "hironsan")
    parser.add_argument("--out", type=Path, default=HERE.parent / "runs" / "spacy-seeds" / "hironsan.json")
    args = parser.parse_args()
    if not args.python.exists():
        sys.exit(f"{args.python} not found: run benchmarks/setup-peers.sh first")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    sentences = hironsan_sentences()
    records = [{"tokens": t, "pos": [list(c[1:3]) for c in cols], "tags": iob2(tags)} for t, tags, cols in sentences]
    results = {}
    if args.out.exists():
        results = json.loads(args.out.read_text(encoding="utf-8"))
    for seed in [int(s) for s in args.seeds.split(",")]:
        started = time.perf_counter()
        gold_all, found_all, per_fold = [], [], []
        for k in range(5):
            work = args.work_root / f"part{k + 1}"
            work.mkdir(parents=True, exist_ok=True)
            train = [records[i] for i in range(len(records)) if i % 5 != k]
            test = [records[i] for i in range(len(records)) if i % 5 == k]
            (work / "train.json").write_text(json.dumps(train, ensure_ascii=False), encoding="utf-8")
            (work / "test.json").write_text(json.dumps(test, ensure_ascii=False), encoding="utf-8")
            done = subprocess.run(
                [
                    "nice",
                    "-n",
                    "19",
                    str(args.python),
                    str(HERE / "peers_side.py"),
                    "spacy",
                    "--work",
                    str(work),
                    "--seed",
                    str(seed),
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            if done.returncode:
                sys.exit(f"spacy failed in {work}:\n{done.stderr[-3000:]}")
            result = json.loads((work / f"spacy-{seed}.json").read_text(encoding="utf-8"))
            gold = [spans_from_iob2(r["tags"]) for r in test]
            found = [[tuple(s) for s in spans] for spans in result["predicted"]]
            fold = score(gold, found)
            per_fold.append(
                {
                    "fold": k,
                    "f1": fold["f1"],
                    "precision": fold["precision"],
                    "recall": fold["recall"],
                    "seconds": result["seconds"],
                }
            )
            print(f"spacy seed {seed} fold {k}: F1 {fold['f1']:.4f} ({result['seconds']:.0f} s)", flush=True)
            gold_all += gold
            found_all += found
        pooled = score(gold_all, found_all)
        results[f"hironsan/spacy/seed{seed}"] = {
            "pooled": pooled,
            "per_fold": per_fold,
            "wall_seconds": time.perf_counter() - started,
        }
        print(
            f"spacy seed {seed} pooled: P {pooled['precision']:.4f} R {pooled['recall']:.4f} F1 {pooled['f1']:.4f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
