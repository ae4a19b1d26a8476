"""Raw-text tagging speed of a Japanese model: tokenizer + features + model, on texts never seen.

    .venv/bin/python benchmarks/raw_text.py --model models/stockmark-ja-small \
        --data ../shared/data/stockmark-wikipedia-ner/ner.json [--threads 2] [--json]

Loads the model, then tags the Stockmark test texts (sentence i with i % 10 == 9) with
`Tagger.predict` in this fresh process, so that the tokenizer's and the features' caches start
empty, and prints the load time, sentences/s and tokens/s of the tagging, peak RSS and, for the
vectors and gazetteer features, the share of tokens with a vector and inside a dictionary match.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from eiwa.readers.spans import read_span_records
from eiwa.tagger import Tagger
from eiwa.tokenize import tokenizer_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="Stockmark ner.json (the test texts are taken from it)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = [text for i, (text, _, _) in enumerate(read_span_records(args.data)) if i % 10 == 9]
    started = time.perf_counter()
    tagger = Tagger.load(args.model)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    results = tagger.predict(texts)
    seconds = time.perf_counter() - started
    sentences = [tokenizer_for("ja").sentence(text) for text in texts]
    tokens = sum(map(len, sentences))
    report = {
        "model": args.model,
        "features": tagger.config.features,
        "threads": torch.get_num_threads(),
        "load_seconds": round(loaded, 2),
        "texts": len(texts),
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "sentences_per_second": round(len(texts) / seconds, 1),
        "tokens_per_second": round(tokens / seconds),
        "entities": sum(len(r["entities"]) for r in results),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    features = tagger.encoder.features
    if "vectors" in features:
        report["vectors_coverage"] = features["vectors"].coverage(sentences)
    if "gazetteer" in features:
        report["gazetteer"] = features["gazetteer"].dictionary().statistics([s.words for s in sentences])
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
