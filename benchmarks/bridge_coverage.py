"""Coverage of the JMdict word bridge: the share of target tokens whose word row starts in the
English source's space (known to the source, or bridged), on training and on test tokens.

    .venv/bin/python benchmarks/bridge_coverage.py --source conll03-en-shared

Hironsan: the first fold's training part (sentences i % 5 != 0) and its test part; Stockmark: the
shared split's training and test parts. Prints one JSON object per corpus and variant.
"""

from __future__ import annotations

import argparse
import json

import torch

from eiwa.build import build
from eiwa.config import load_config
from eiwa.features.vocab import normalize_word
from eiwa.readers import read
from eiwa.tagger import Tagger


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="conll03-en-shared")
    parser.add_argument("--variants", default="jmdict,jmdict+map")
    args = parser.parse_args()
    torch.set_num_threads(1)
    source = Tagger.load(args.source)
    hironsan = read(None, "hironsan", "ja").sentences
    stockmark = read("../shared/data/stockmark-wikipedia-ner/ner.json", "spans", "ja").sentences
    corpora = {
        "hironsan fold 1": (
            [s for i, s in enumerate(hironsan) if i % 5],
            [s for i, s in enumerate(hironsan) if i % 5 == 0],
        ),
        "stockmark": (
            [s for i, s in enumerate(stockmark) if i % 10 not in (8, 9)],
            [s for i, s in enumerate(stockmark) if i % 10 == 9],
        ),
    }
    for name, (train, test) in corpora.items():
        for variant in args.variants.split(","):
            config = load_config(
                None,
                [f"word_bridge={variant}", "new_rows=unknown"],
                lang="ja",
                word_input="native",
                char_input="romaji",
                features="char,word,pos,vectors,gazetteer",
            )
            tagger, report = build(config, train, source, ["char", "word", "pos", "gazetteer", "classifier"])
            words = tagger.encoder.features["word"].vocabs["words"]
            rows = tagger.model.word.embedding.weight.detach()
            unknown = rows[1]
            test_words = [normalize_word(w, config.word_lowercase) for s in test for w in s.words]
            in_space = sum(
                1
                for w in test_words
                if w in words and (words.ids[w] < words.inherited or not torch.equal(rows[words.ids[w]], unknown))
            )
            print(
                json.dumps(
                    {
                        "corpus": name,
                        "variant": variant,
                        **report.bridge.to_dict(),
                        "train_share": (report.bridge.known_tokens + report.bridge.bridged_tokens)
                        / report.bridge.tokens,
                        "test_tokens": len(test_words),
                        "test_in_source_space": in_space,
                        "test_share": in_space / len(test_words),
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
