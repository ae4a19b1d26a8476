"""A long document tagged with and without sentence splitting: nothing is cut off, and how long it takes.

    .venv/bin/python benchmarks/long_documents.py ja-wiki [--chars 10000]

Builds a text of `--chars` characters from one sentence repeated (Japanese or English, by the
model's language) and tags it three ways: split into sentences (the default), as one sentence
(`split_sentences=False`), and with its sentence ends replaced by commas (one sentence however it
is split). Prints, for each, the sentences, the entities, where the last entity ends, and the best
of three wall times, on one torch thread.
"""

import argparse
import resource
import time

import torch

import eiwa

SENTENCES = {
    "ja": "田中さんは東京の日本銀行に勤めている。",
    "en": "John Smith lives in New York and works for Acme Corp. ",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--chars", type=int, default=10_000)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    tagger = eiwa.load(arguments.model)
    sentence = SENTENCES["ja" if tagger.config.lang == "ja" else "en"]
    document = (sentence * (arguments.chars // len(sentence) + 1))[: arguments.chars]
    no_ends = document.replace("。", "、").replace(". ", ", ")
    tagger.predict(sentence)  # warm up: the tokenizer, the thread pool
    cases = [("split", document, True), ("one sentence", document, False), ("no sentence end, split", no_ends, True)]
    for name, text, split in cases:
        times = []
        for _ in range(3):
            began = time.perf_counter()
            [result] = tagger.predict(text, split_sentences=split)
            times.append(time.perf_counter() - began)
        last = max((e["end"] for e in result["entities"]), default=None)
        print(
            f"{name}: {len(text)} characters, {len(result['sentences'])} sentences, "
            f"{len(result['entities'])} entities, the last ending at {last}; best of 3: {min(times):.2f} s"
        )
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
