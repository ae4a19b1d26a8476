"""One short GPU check, for a machine with CUDA (the tests run on the CPU only).

    .venv/bin/python benchmarks/gpu_check.py [--epochs 3] [--json out.json]

Trains the same small English tagger (CoNLL-2003: 2,000 training sentences, its valid set for
early stopping) for a few epochs on the CPU and on CUDA from the same seed, tags the test set with
both, and reports: the epochs' losses side by side, both dev and test F1, the share of test
sentences whose predicted entities are identical, the largest difference of an entity confidence,
and tagging speed. CUDA's LSTM kernels are not bit-for-bit deterministic, so the two runs are
expected to agree closely, not exactly.
"""

import argparse
import json
import time
from dataclasses import replace

import torch

from eiwa.config import Config
from eiwa.readers.conll import read_conll
from eiwa.training.train import train


def run(device: str, config: Config, train_part, dev, test) -> dict:
    started = time.perf_counter()
    result = train(config, train_part, dev, progress=False, log=lambda _: None, device=device)
    seconds = time.perf_counter() - started
    tagger = result.tagger
    started = time.perf_counter()
    predicted = tagger.tag_sentences(test, confidence=True)
    tagging = time.perf_counter() - started
    return {
        "device": str(tagger.device),
        "losses": [h["loss"] for h in result.history],
        "dev_f1": result.best_dev_f1,
        "test_f1": tagger.evaluate(test).f1,
        "train_s": round(seconds, 1),
        "tag_sentences_per_s": round(len(test) / tagging),
        "predicted": predicted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default="../shared/data/conll2003")
    parser.add_argument("--json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit(f"no CUDA GPU visible to torch {torch.__version__}: install a CUDA build (README)")
    columns = ["token", "pos", "chunk", "tag"]
    train_part = read_conll(f"{args.data}/train.txt", "en", columns).sentences[:2000]
    dev = read_conll(f"{args.data}/valid.txt", "en", columns).sentences
    test = read_conll(f"{args.data}/test.txt", "en", columns).sentences
    config = replace(Config(), max_epochs=args.epochs, seed=1).validate()
    cpu, gpu = run("cpu", config, train_part, dev, test), run("cuda", config, train_part, dev, test)
    same = sum(
        [s.as_tuple() for s in a] == [s.as_tuple() for s in b] for a, b in zip(cpu["predicted"], gpu["predicted"])
    )
    confidence_gap = max(
        (
            abs(x.confidence - y.confidence)
            for a, b in zip(cpu["predicted"], gpu["predicted"])
            if [s.as_tuple() for s in a] == [s.as_tuple() for s in b]
            for x, y in zip(a, b)
        ),
        default=0.0,
    )
    report = {
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0),
        **{
            f"{name}_{key}": value
            for name, run_ in (("cpu", cpu), ("cuda", gpu))
            for key, value in run_.items()
            if key != "predicted"
        },
        "identical_test_sentences": round(same / len(test), 4),
        "largest_confidence_difference": confidence_gap,
    }
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
