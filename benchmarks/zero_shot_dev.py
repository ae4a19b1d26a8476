"""Zero-shot variants on Stockmark's dev split (i % 10 == 8; never test): an English source tags
Japanese through a label map, untrained on Japanese, with the shared modules transferred.

    .venv/bin/python benchmarks/zero_shot_dev.py --source conll03-en-shared
    .venv/bin/python benchmarks/zero_shot_dev.py --source conll-wikiann-en

Variants: the study's full label map (each English type to every Stockmark type it covers) or a
one-to-one map; new rows random or the source's unknown row; the word bridge or none. Prints one
line per variant with dev P/R/F1.
"""

from __future__ import annotations

import argparse
import time

import torch

from eiwa.build import build
from eiwa.config import load_config
from eiwa.readers import read
from eiwa.scoring import score
from eiwa.tagger import Tagger

FULL = "PER=人名,ORG=法人名,ORG=政治的組織名,ORG=その他の組織名,LOC=地名,LOC=施設名,MISC=製品名,MISC=イベント名"
ONE_TO_ONE = "PER=人名,ORG=法人名,LOC=地名,MISC=製品名"
MODULES = ["char", "word", "pos", "gazetteer", "classifier"]


def label_map(spec: str) -> dict[str, list[str]]:
    mapping: dict[str, list[str]] = {}
    for item in spec.split(","):
        source, target = item.split("=")
        mapping.setdefault(source, []).append(target)
    return mapping


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="conll03-en-shared")
    parser.add_argument("--data", default="../shared/data/stockmark-wikipedia-ner/ner.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sentences = read(args.data, "spans", "ja").sentences
    dev = [s for i, s in enumerate(sentences) if i % 10 == 8]
    gold = [[e.as_tuple() for e in s.entities] for s in dev]
    source = Tagger.load(args.source)
    variants = [
        ("full map, unknown rows, jmdict bridge", FULL, "unknown", "jmdict"),
        ("one-to-one map, unknown rows, jmdict bridge", ONE_TO_ONE, "unknown", "jmdict"),
        ("one-to-one map, random rows, jmdict bridge", ONE_TO_ONE, "random", "jmdict"),
        ("one-to-one map, unknown rows, no bridge", ONE_TO_ONE, "unknown", "none"),
    ]
    for name, spec, new_rows, bridge in variants:
        config = load_config(
            None,
            [f"new_rows={new_rows}", f"word_bridge={bridge}", "threads=1"],
            lang="ja",
            word_input="native",
            char_input="romaji",
            features="char,word,pos,gazetteer",
        )
        started = time.perf_counter()
        tagger, _ = build(config, [], source, MODULES, label_map(spec))
        predicted = [[e.as_tuple() for e in spans] for spans in tagger.tag_sentences(dev)]
        result = score(gold, predicted)
        print(
            f"{args.source}: {name}: dev P {result.precision:.4f} R {result.recall:.4f} F1 {result.f1:.4f} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
