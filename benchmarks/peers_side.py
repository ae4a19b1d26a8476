"""The peer taggers of benchmarks/peers.py; runs in benchmarks/.peers-venv (see setup-peers.sh).

    python peers_side.py crf   --work DIR          # sklearn-crfsuite with hand-written features
    python peers_side.py spacy --work DIR --seed N # spaCy's NER trained from scratch

Reads DIR/train.json and DIR/test.json (tokens, part-of-speech, IOB2 tags) and writes
DIR/<tool>.json: predicted token spans per test sentence, scored by peers.py with eiwa's scorer.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import unicodedata
from pathlib import Path


def char_type(char: str) -> str:
    name = unicodedata.name(char, "")
    if name.startswith("CJK UNIFIED"):
        return "kanji"
    if name.startswith("HIRAGANA"):
        return "hira"
    if name.startswith("KATAKANA") or char == "ー":
        return "kata"
    if char.isdigit():
        return "digit"
    if char.isalpha():
        return "latin"
    return "symbol"


def token_features(tokens: list[str], pos: list[list[str]], i: int) -> dict:
    word = tokens[i]
    types = [char_type(c) for c in word]
    features = {
        "bias": 1.0,
        "word": word,
        "prefix1": word[:1],
        "prefix2": word[:2],
        "suffix1": word[-1:],
        "suffix2": word[-2:],
        "suffix3": word[-3:],
        "types": "-".join(sorted(set(types))),
        "first_type": types[0],
        "last_type": types[-1],
        "length": min(len(word), 8),
        "pos1": pos[i][0],
        "pos2": "/".join(pos[i][:2]),
    }
    for offset in (-2, -1, 1, 2):
        j = i + offset
        if 0 <= j < len(tokens):
            features.update(
                {
                    f"{offset}:word": tokens[j],
                    f"{offset}:pos1": pos[j][0],
                    f"{offset}:types": "-".join(sorted({char_type(c) for c in tokens[j]})),
                }
            )
        else:
            features[f"{offset}:edge"] = True
    return features


def spans_from_iob2(tags: list[str]) -> list[list]:
    spans, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == kind):
            spans.append([start, i, kind])
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, kind = i, tag[2:]
    return spans


def run_crf(train: list[dict], test: list[dict], seed: int) -> list[list]:
    import sklearn_crfsuite

    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=200, all_possible_transitions=True)
    crf.fit(
        [[token_features(s["tokens"], s["pos"], i) for i in range(len(s["tokens"]))] for s in train],
        [s["tags"] for s in train],
    )
    predicted = crf.predict([[token_features(s["tokens"], s["pos"], i) for i in range(len(s["tokens"]))] for s in test])
    return [spans_from_iob2(list(tags)) for tags in predicted]


def run_spacy(train: list[dict], test: list[dict], seed: int, epochs: int = 30) -> list[list]:
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example, offsets_to_biluo_tags
    from spacy.util import compounding, fix_random_seed, minibatch

    fix_random_seed(seed)
    random.seed(seed)
    nlp = spacy.blank("xx")  # tokens come pre-tokenized; "ja" would need SudachiPy for a tokenizer it never uses
    ner = nlp.add_pipe("ner")
    examples = []
    for s in train:
        doc = Doc(nlp.vocab, words=s["tokens"], spaces=[False] * len(s["tokens"]))
        entities = [(doc[a:b].start_char, doc[a:b].end_char, kind) for a, b, kind in spans_from_iob2(s["tags"])]
        for _, _, kind in entities:
            ner.add_label(kind)
        examples.append(Example.from_dict(doc, {"entities": offsets_to_biluo_tags(doc, entities)}))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        random.shuffle(examples)
        for batch in minibatch(examples, size=compounding(4.0, 32.0, 1.001)):
            nlp.update(batch, drop=0.2, sgd=optimizer)
    predicted = []
    for s in test:
        doc = nlp(Doc(nlp.vocab, words=s["tokens"], spaces=[False] * len(s["tokens"])))
        predicted.append([[e.start, e.end, e.label_] for e in doc.ents])
    return predicted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=["crf", "spacy"])
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    train = json.loads((args.work / "train.json").read_text(encoding="utf-8"))
    test = json.loads((args.work / "test.json").read_text(encoding="utf-8"))
    started = time.perf_counter()
    predicted = (run_crf if args.tool == "crf" else run_spacy)(train, test, args.seed)
    out = args.work / f"{args.tool}-{args.seed}.json"
    out.write_text(json.dumps({"predicted": predicted, "seconds": time.perf_counter() - started}), encoding="utf-8")


if __name__ == "__main__":
    main()
