"""How eiwa's training and tagging time grow with the number of sentences and with sentence length.

    .venv/bin/python benchmarks/scaling.py                     # CoNLL-2003 train from ../shared
    .venv/bin/python benchmarks/scaling.py --threads 1 --out benchmarks/results/scaling-1thread

Sizes: the first 1k, 2k, 4k, 8k and 14k CoNLL-2003 training sentences; for each, one training
epoch of a fresh model (default config, after a warm-up on 200 sentences) and one tagging pass
over the same sentences (pre-encoded). Lengths: sentences of exactly 8 ... 128 tokens made by
joining consecutive training sentences and cutting them, about 32k tokens at every length, so
that time per token should stay flat if cost is linear in length. Fits time = a + b * size by
least squares and reports R²; writes JSON and a two-panel PNG. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from eiwa.build import build
from eiwa.config import Config
from eiwa.doc import Sentence, sentence_from_tags
from eiwa.readers import read
from eiwa.tags import tags_from_spans
from eiwa.training.loop import run_epoch
from eiwa.training.optim import make_optimizer

HERE = Path(__file__).resolve().parent
SIZES = (1000, 2000, 4000, 8000, 14041)
LENGTHS = (8, 16, 32, 64, 128)


def measure(config: Config, sentences: list[Sentence]) -> tuple[float, float]:
    """(seconds for one training epoch, seconds to tag the same sentences)."""
    tagger = build(config, sentences).tagger
    data = tagger.encoder.encode(sentences)
    optimizer = make_optimizer(tagger)
    state = {"best_dev_f1": -1.0, "updates": 0}
    run_epoch(tagger.model, tagger.encoder, tagger.encoder.encode(sentences[:200]), optimizer, config, 1, state)
    started = time.perf_counter()
    run_epoch(tagger.model, tagger.encoder, data, optimizer, config, 2, state)
    train_seconds = time.perf_counter() - started
    encoded = tagger.encoder.encode(sentences, with_tags=False)
    tagger.tag_encoded(encoded)  # warm-up
    started = time.perf_counter()
    tagger.tag_encoded(encoded)
    return train_seconds, time.perf_counter() - started


def fixed_length(sentences: list[Sentence], length: int, total_tokens: int) -> list[Sentence]:
    """About `total_tokens` tokens as sentences of exactly `length`, cut from the stream of training tokens."""
    tokens, tags = [], []
    for sentence in sentences:
        tokens += sentence.words
        tags += tags_from_spans(sentence.token_spans(), len(sentence), "iob2")
        if len(tokens) >= total_tokens:
            break
    made = []
    for start in range(0, len(tokens) - length + 1, length):
        piece = tags[start : start + length]
        if piece[0].startswith("I-"):
            piece[0] = "B-" + piece[0][2:]  # an entity cut in two starts afresh
        made.append(sentence_from_tags(tokens[start : start + length], piece, "en"))
    return made


def fit(x: list[float], y: list[float]) -> dict:
    slope, intercept = np.polyfit(x, y, 1)
    predicted = slope * np.asarray(x) + intercept
    r2 = 1 - np.sum((np.asarray(y) - predicted) ** 2) / np.sum((np.asarray(y) - np.mean(y)) ** 2)
    return {"slope": float(slope), "intercept": float(intercept), "r2": float(r2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--train", type=Path, default=HERE.parent.parent / "shared" / "data" / "conll2003" / "train.txt"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scaling")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = Config(lang="en", threads=args.threads).validate()
    sentences = read(args.train, "conll", "en").sentences

    by_size = []
    for size in SIZES:
        part = sentences[:size]
        train_seconds, tag_seconds = measure(config, part)
        by_size.append(
            {
                "sentences": len(part),
                "tokens": sum(map(len, part)),
                "train_seconds": train_seconds,
                "tag_seconds": tag_seconds,
            }
        )
        print(json.dumps(by_size[-1]), flush=True)
    by_length = []
    for length in LENGTHS:
        part = fixed_length(sentences, length, 32_000)
        train_seconds, tag_seconds = measure(config, part)
        tokens = len(part) * length
        by_length.append(
            {
                "length": length,
                "sentences": len(part),
                "tokens": tokens,
                "train_seconds": train_seconds,
                "tag_seconds": tag_seconds,
                "train_ms_per_1k_tokens": 1e6 * train_seconds / tokens,
                "tag_ms_per_1k_tokens": 1e6 * tag_seconds / tokens,
            }
        )
        print(json.dumps(by_length[-1]), flush=True)

    result = {
        "threads": torch.get_num_threads(),
        "by_size": by_size,
        "by_length": by_length,
        "fit_train_vs_sentences": fit([r["sentences"] for r in by_size], [r["train_seconds"] for r in by_size]),
        "fit_tag_vs_sentences": fit([r["sentences"] for r in by_size], [r["tag_seconds"] for r in by_size]),
        # Total tokens are fixed across lengths, so linear cost means a flat line: fit time per sentence against length.
        "fit_train_per_sentence_vs_length": fit(
            list(LENGTHS), [r["train_seconds"] / r["sentences"] for r in by_length]
        ),
        "fit_tag_per_sentence_vs_length": fit(list(LENGTHS), [r["tag_seconds"] / r["sentences"] for r in by_length]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    plot(result, args.out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in result.items() if k.startswith("fit")}, indent=1))


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = [r["sentences"] for r in result["by_size"]]
    left.plot(sizes, [r["train_seconds"] for r in result["by_size"]], "o-", label="one training epoch")
    left.plot(sizes, [r["tag_seconds"] for r in result["by_size"]], "s-", label="tagging")
    left.set_xlabel("CoNLL-2003 training sentences")
    left.set_ylabel("seconds")
    left.set_title("time against corpus size")
    lengths = [r["length"] for r in result["by_length"]]
    right.plot(lengths, [r["train_ms_per_1k_tokens"] for r in result["by_length"]], "o-", label="training")
    right.plot(lengths, [r["tag_ms_per_1k_tokens"] for r in result["by_length"]], "s-", label="tagging")
    right.set_xscale("log", base=2)
    right.set_xlabel("tokens per sentence (about 32k tokens in all)")
    right.set_ylabel("ms per 1,000 tokens")
    right.set_ylim(bottom=0)
    right.set_title("time per token against sentence length")
    for axes in (left, right):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(f"eiwa scaling, {result['threads']} torch threads")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
