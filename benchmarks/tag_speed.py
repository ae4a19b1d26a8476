"""Batch tagging speed of built-in models (best of 3, after a warm-up call), for before/after
comparisons of the tagging path:

    .venv/bin/python benchmarks/tag_speed.py

`conll03-en` scores CoNLL-2003 test (3,453 pre-tokenized sentences, `Tagger.evaluate`); `ja-wiki`
tags the raw text of the Stockmark shared split's test part (534 sentences, `Tagger.predict`:
tokenizing included).
"""

import time

import eiwa
from eiwa.readers.conll import read_conll
from eiwa.readers.spans import read_span_records

DATA = "../shared/data"


def best_of_3(run) -> float:
    run()
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    english = read_conll(f"{DATA}/conll2003/test.txt", "en").sentences
    records = read_span_records(f"{DATA}/stockmark-wikipedia-ner/ner.json")
    japanese = [text for i, (text, _, _) in enumerate(records) if i % 10 == 9]
    english_tagger, japanese_tagger = eiwa.load("conll03-en"), eiwa.load("ja-wiki")
    print(f"conll03-en evaluate {len(english)} sentences: {best_of_3(lambda: english_tagger.evaluate(english)):.3f} s")
    print(f"ja-wiki predict {len(japanese)} texts: {best_of_3(lambda: japanese_tagger.predict(japanese)):.3f} s")


if __name__ == "__main__":
    main()
