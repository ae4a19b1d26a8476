"""Peer taggers on eiwa's folds and splits: a feature CRF (sklearn-crfsuite) and spaCy's NER.

    benchmarks/setup-peers.sh                       # once: benchmarks/.peers-venv
    .venv/bin/python benchmarks/peers.py            # Hironsan 5-fold (CRF; spaCy over seeds 1,2,3) and Stockmark (CRF)

The folds, splits and tokens are exactly those of `eiwa experiment` (experiments/*.toml):
Hironsan sentence i is in test fold i % 5; Stockmark sentence i is test when i % 10 == 9 and
train otherwise (the dev tenth is unused by the peers, which tune nothing). Training tokens are
split at entity boundaries as eiwa's are. Both peers are scored with eiwa's scorer on character
spans, pooled over folds. Part-of-speech features: the Hironsan corpus's own MeCab columns; for
Stockmark, which has none, unidic-lite's tag of each token on its own. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
from pathlib import Path

from eiwa.readers import read
from eiwa.scoring import score
from eiwa.study.folds import kfold_splits, shared_split
from eiwa.tags import tags_from_spans

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


def hironsan_pos() -> dict[str, list[list[str]]]:
    """Each Hironsan sentence's MeCab part-of-speech columns (1 and 2), by the reader's origin name."""
    from hironsan import corpus

    return {
        f"hironsan:{split}:{i}": [[row[1], row[2]] if len(row) > 2 else ["*", "*"] for row in rows]
        for split in ("train", "test")
        for i, rows in enumerate(corpus.hiron2016.iob_sents(split))
    }


@functools.cache
def pos_of_surface(surface: str) -> tuple[str, str]:
    nodes = list(_tagger()(surface))
    return (nodes[0].feature.pos1, nodes[0].feature.pos2) if nodes else ("*", "*")


@functools.cache
def _tagger():
    from eiwa.tokenize.japanese import new_tagger

    return new_tagger()


def records(sentences, pos_by_origin=None) -> list[dict]:
    out = []
    for s in sentences:
        pos = pos_by_origin[s.origin] if pos_by_origin else [list(pos_of_surface(t)) for t in s.words]
        out.append({"tokens": s.words, "pos": pos, "tags": tags_from_spans(s.token_spans(), len(s), "iob2")})
    return out


def folds(name: str, shared: Path):
    """[(train sentences, test sentences)] and the POS lookup, as `eiwa experiment` splits them."""
    if name == "hironsan":
        sentences = read(None, "hironsan", "ja").sentences
        return [
            ([sentences[i] for i in train], [sentences[i] for i in test])
            for train, _, test in kfold_splits(len(sentences), 5)
        ], hironsan_pos()
    path = shared / "stockmark-wikipedia-ner" / "ner.json"
    split = read(path, "spans", "ja", split_tokens=True).sentences
    whole = read(path, "spans", "ja").sentences
    train, _, test = shared_split(len(whole))
    return [([split[i] for i in train], [whole[i] for i in test])], None


def run_peer(python: Path, tool: str, work: Path, seed: int) -> list:
    done = subprocess.run(
        [str(python), str(HERE / "peers_side.py"), tool, "--work", str(work), "--seed", str(seed)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"{tool} failed in {work}:\n{done.stderr[-3000:]}")
    return json.loads((work / f"{tool}-{seed}.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="hironsan,stockmark")
    parser.add_argument("--seeds", default="1,2,3", help="spaCy seeds (the CRF's L-BFGS training has no randomness)")
    parser.add_argument("--spacy-on", default="hironsan", help="data sets to run spaCy on (it is slow on Stockmark)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--python", type=Path, default=HERE / ".peers-venv" / "bin" / "python")
    parser.add_argument("--work-root", type=Path, default=HERE.parent / "runs" / "peers")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "peers.json")
    args = parser.parse_args()
    if not args.python.exists():
        sys.exit(f"{args.python} not found: run benchmarks/setup-peers.sh first")
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for name in args.data.split(","):
        parts, pos = folds(name, args.shared)
        runs = [("crf", 1)] + ([("spacy", seed) for seed in seeds] if name in args.spacy_on.split(",") else [])
        pooled = {run: ([], [], 0.0) for run in runs}
        for k, (train, test) in enumerate(parts, start=1):
            work = args.work_root / name / f"part{k}"
            work.mkdir(parents=True, exist_ok=True)
            (work / "train.json").write_text(json.dumps(records(train, pos), ensure_ascii=False), encoding="utf-8")
            (work / "test.json").write_text(json.dumps(records(test, pos), ensure_ascii=False), encoding="utf-8")
            for tool, seed in runs:
                result = run_peer(args.python, tool, work, seed)
                gold, found, seconds = pooled[(tool, seed)]
                gold += [[e.as_tuple() for e in s.entities] for s in test]
                found += [
                    [(s.offsets[a][0], s.offsets[b - 1][1], kind) for a, b, kind in spans]
                    for s, spans in zip(test, result["predicted"])
                ]
                pooled[(tool, seed)] = (gold, found, seconds + result["seconds"])
                print(
                    f"{name} part {k}/{len(parts)} {tool} seed {seed}: "
                    f"F1 {score(gold[-len(test) :], found[-len(test) :]).f1:.4f} "
                    f"({result['seconds']:.0f} s)",
                    flush=True,
                )
        for tool in dict.fromkeys(tool for tool, _ in runs):
            scores = [score(*pooled[(t, s)][:2]) for t, s in runs if t == tool]
            f1s = [s.f1 for s in scores]
            results[f"{name}/{tool}"] = {
                "seeds": [s for t, s in runs if t == tool],
                "f1_per_seed": f1s,
                "f1_mean": statistics.fmean(f1s),
                "f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
                "precision_mean": statistics.fmean(s.precision for s in scores),
                "recall_mean": statistics.fmean(s.recall for s in scores),
                "seconds": [pooled[(t, s)][2] for t, s in runs if t == tool],
                "parts": len(parts),
            }
            print(
                f"{name} {tool}: F1 {results[f'{name}/{tool}']['f1_mean']:.4f} "
                f"± {results[f'{name}/{tool}']['f1_std']:.4f}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
