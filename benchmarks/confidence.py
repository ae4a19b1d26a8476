"""Cost of entity confidence in the model step: `Tagger.tag_encoded` with and without it.

    .venv/bin/python benchmarks/confidence.py [--model conll03-en] [--data ../shared/data/conll2003/test.txt]

Encodes the data once, then tags it alternately without and with confidence, best of 3 each,
twice; prints sentences/s.
"""

import argparse
import time

import torch

from eiwa.readers.conll import read_conll
from eiwa.tagger import Tagger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="conll03-en")
    parser.add_argument("--data", default="../shared/data/conll2003/test.txt")
    args = parser.parse_args()
    tagger = Tagger.load(args.model)
    sentences = read_conll(args.data, tagger.config.lang).sentences
    encoded = tagger.encoder.encode(sentences, with_tags=False)
    for confidence in (False, True, False, True):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            tagger.tag_encoded(encoded, 64, confidence=confidence)
            times.append(time.perf_counter() - started)
        print(
            f"confidence={confidence}: {len(sentences) / min(times):,.0f} sentences/s "
            f"({torch.get_num_threads()} torch threads)"
        )


if __name__ == "__main__":
    main()
