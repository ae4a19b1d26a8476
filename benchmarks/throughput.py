"""Training and tagging throughput of an eiwa model on a data set.

    python benchmarks/throughput.py --model runs/conll03-en \
        --train ../shared/data/conll2003/train.txt --test ../shared/data/conll2003/test.txt

Reports seconds for one training epoch over --train (fresh model with the model's config,
after a short warm-up) and sentences/s and tokens/s for tagging --test with the trained model
(pre-tokenized, model only, after a warm-up pass), plus the torch thread count. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from eiwa.build import build
from eiwa.readers import read
from eiwa.tagger import Tagger
from eiwa.training.loop import run_epoch
from eiwa.training.optim import make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--format", default="conll")
    parser.add_argument("--train")
    parser.add_argument("--test", required=True)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tagger = Tagger.load(args.model)
    lang = tagger.config.lang
    result = {"threads": torch.get_num_threads()}

    test = read(args.test, args.format, lang).sentences
    tokens = sum(len(s) for s in test)
    tagger.tag_sentences(test[:200])  # warm-up
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        tagger.tag_sentences(test)
        times.append(time.perf_counter() - started)
    best = float(np.median(times))
    result.update(
        test_sentences=len(test),
        test_tokens=tokens,
        tag_seconds_median=round(best, 3),
        sentences_per_second=round(len(test) / best, 1),
        tokens_per_second=round(tokens / best, 1),
    )

    if args.train:
        sentences = read(args.train, args.format, lang, split_tokens=True).sentences
        fresh = build(tagger.config, sentences).tagger
        data = fresh.encoder.encode(sentences)
        optimizer = make_optimizer(fresh)
        state = {"best_dev_f1": -1.0, "updates": 0}
        run_epoch(fresh.model, fresh.encoder, fresh.encoder.encode(sentences[:200]), optimizer, fresh.config, 1, state)
        started = time.perf_counter()
        run_epoch(fresh.model, fresh.encoder, data, optimizer, fresh.config, 2, state)
        seconds = time.perf_counter() - started
        result.update(
            train_sentences=len(sentences),
            epoch_seconds=round(seconds, 1),
            train_sentences_per_second=round(len(sentences) / seconds, 1),
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
