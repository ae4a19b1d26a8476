"""The feature-CRF peer, rebuilt to the issue's specification; standalone (no eiwa.readers).

    nice -n 19 .venv/bin/python benchmarks/crf_peer.py --pos both --out benchmarks/results/crf-hironsan.json
    nice -n 19 .venv/bin/python benchmarks/crf_peer.py --data stockmark --out benchmarks/results/crf-stockmark.json

Hironsan (`hironsancorpus`): the 500 sentences, train split then test split; 5-fold CV, fold k
holds the sentences with index % 5 == k; each fold is tagged by a CRF trained on ALL sentences
of the other four folds (no dev held out); predictions of the five folds are pooled and scored
(entity-level exact match, micro P/R/F1, seqeval's default mode). Corpus tokens and IOB2 tags.

Stockmark (`../shared/data/stockmark-wikipedia-ner/ner.json`): sentence i is dev when
i % 10 == 8 (unused), test when i % 10 == 9, train otherwise. Text is tokenized with fugashi +
unidic-lite (MeCab nodes are the tokens, whitespace skipped); training tokens are split at
entity boundaries that fall inside them; test tokens are not, and scoring is on character spans,
so an entity with a boundary inside a test token is missed. Only the MeCab POS variant exists.

The CRF: sklearn-crfsuite, L-BFGS, c1 = c2 = 0.1, 100 iterations, all possible transitions.
Features per token: NFKC-normalised surface, its character-type pattern (runs of kanji /
hiragana / katakana / latin / digit / other collapsed), length capped at 6, prefixes and
suffixes of 1-3 characters, is-digit, the POS columns and POS level 1|level 2 joined; at +-1
and +-2 the surface, character-type pattern and joined POS, plus at +-1 the 2-character prefix
and suffix; the word bigrams (-1|0) and (0|+1); BOS/EOS markers.

POS columns: `--pos corpus` uses the Hironsan corpus's own columns 2-8 (1-based: character
type, the four POS levels, conjugation type and form); `--pos mecab` uses unidic-lite's pos1-pos4,
cType and cForm of the MeCab node that covers the corpus token's first character (the sentence's
tokens joined with "" are analysed as one text). Rows for a full-width space lost their surface
upstream (11 columns, the first "ZSPACE"); the surface is restored as U+3000, as eiwa does.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import unicodedata
from pathlib import Path

from eiwa.scoring import score as eiwa_score
from eiwa.tags import spans_from_tags

HERE = Path(__file__).resolve().parent
STOCKMARK = HERE.parent.parent / "shared" / "data" / "stockmark-wikipedia-ner" / "ner.json"
NO_POS = ("*",) * 6


# ----------------------------------------------------------------------------- MeCab


def new_tagger():
    """fugashi pinned to unidic-lite (eiwa.tokenize.japanese.new_tagger, or the same arguments)."""
    try:
        from eiwa.tokenize.japanese import new_tagger as eiwa_new_tagger

        return eiwa_new_tagger()
    except Exception:  # eiwa.tokenize.japanese imports eiwa.doc, which may be mid-refactor
        import fugashi
        import unidic_lite

        return fugashi.Tagger(f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"')


def unidic_fields(node) -> tuple[str, ...]:
    f = node.feature
    return tuple(v if v else "*" for v in (f.pos1, f.pos2, f.pos3, f.pos4, f.cType, f.cForm))


def mecab_nodes(tagger, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, unidic fields) of every MeCab node of `text`, with character offsets.

    Skipped whitespace (node.white_space) advances the cursor; a node MeCab returns for a
    whitespace character is kept (callers that want no whitespace tokens drop it).
    """
    nodes, cursor = [], 0
    while cursor < len(text):
        before = len(nodes)
        for node in tagger(text[cursor:]):
            cursor += len(node.white_space)
            surface = node.surface
            if not surface:
                continue
            if not text.startswith(surface, cursor):  # never seen; keep offsets moving
                found = text.find(surface, cursor)
                cursor = found if found >= 0 else cursor
            end = min(len(text), cursor + len(surface))
            nodes.append((cursor, end, unidic_fields(node)))
            cursor = end
        while cursor < len(text) and text[cursor].isspace():
            cursor += 1
        if len(nodes) == before and cursor < len(text):  # MeCab stops at NUL: step over it
            nodes.append((cursor, cursor + 1, NO_POS))
            cursor += 1
    return nodes


# ----------------------------------------------------------------------------- features


def char_class(char: str) -> str:
    name = unicodedata.name(char, "")
    if name.startswith("CJK UNIFIED") or char in "々〆ヶ":
        return "K"  # kanji
    if name.startswith("HIRAGANA"):
        return "H"
    if name.startswith("KATAKANA"):  # includes the prolonged sound mark ー
        return "T"
    if char.isdigit():
        return "D"
    if char.isalpha() and ("LATIN" in name or char.isascii()):
        return "L"
    return "O"


def char_pattern(word: str) -> str:
    """Character classes with runs collapsed: "2005年" -> "DK", "南アフリカ" -> "KT"."""
    out = []
    for c in word:
        k = char_class(c)
        if not out or out[-1] != k:
            out.append(k)
    return "".join(out)


def sentence_features(tokens: list[str], pos: list[tuple[str, ...]], length_as: str = "number") -> list[dict]:
    words = [unicodedata.normalize("NFKC", t) for t in tokens]
    patterns = [char_pattern(w) for w in words]
    joined = [f"{p[1]}|{p[2]}" if len(p) == 7 else f"{p[0]}|{p[1]}" for p in pos]
    n = len(words)
    feats = []
    for i, w in enumerate(words):
        length = min(len(w), 6)
        f = {
            "w": w,
            "pat": patterns[i],
            "len": length if length_as == "number" else str(length),
            "p1": w[:1],
            "p2": w[:2],
            "p3": w[:3],
            "s1": w[-1:],
            "s2": w[-2:],
            "s3": w[-3:],
            "isdigit": w.isdigit(),
            "pos12": joined[i],
        }
        for k, v in enumerate(pos[i]):
            f[f"c{k}"] = v
        for o in (-2, -1, 1, 2):
            j = i + o
            if 0 <= j < n:
                f[f"{o}:w"] = words[j]
                f[f"{o}:pat"] = patterns[j]
                f[f"{o}:pos12"] = joined[j]
                if abs(o) == 1:
                    f[f"{o}:p2"] = words[j][:2]
                    f[f"{o}:s2"] = words[j][-2:]
        if i > 0:
            f["bi:-1|0"] = f"{words[i - 1]}|{w}"
        else:
            f["BOS"] = True
        if i < n - 1:
            f["bi:0|+1"] = f"{w}|{words[i + 1]}"
        else:
            f["EOS"] = True
        feats.append(f)
    return feats


# ----------------------------------------------------------------------------- tags and scores


def score(gold: list[list[tuple]], found: list[list[tuple]]) -> dict:
    """eiwa's scorer (entity-level exact match, micro and per type), as a dict."""
    return eiwa_score(gold, found).to_dict()


def train_and_tag(train_x, train_y, test_x) -> tuple[list[list[str]], float]:
    import sklearn_crfsuite

    started = time.perf_counter()
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=100, all_possible_transitions=True)
    crf.fit(train_x, train_y)
    return [list(t) for t in crf.predict(test_x)], time.perf_counter() - started


# ----------------------------------------------------------------------------- Hironsan


def hironsan_sentences() -> list[tuple[list[str], list[str], list[tuple[str, ...]]]]:
    """(tokens, IOB2 tags, corpus columns 2-8 (1-based)) of the 500 sentences, train then test."""
    from hironsan import corpus

    out = []
    for rows in corpus.hiron2016.iob_sents("train") + corpus.hiron2016.iob_sents("test"):
        tokens, tags, cols = [], [], []
        for row in rows:
            if len(row) == 11 and row[0] == "ZSPACE":  # full-width space whose surface was lost
                row = ["\u3000", *row]
            tokens.append(row[0])
            tags.append(row[-1])
            cols.append(tuple(row[1:8]))  # char type, POS 1-4, conjugation type, conjugation form
        out.append((tokens, tags, cols))
    return out


def mecab_pos(tagger, tokens: list[str]) -> tuple[list[tuple[str, ...]], int]:
    """Unidic fields of the node covering each token's first character; and how many tokens
    are not exactly one MeCab node."""
    text = "".join(tokens)
    nodes = mecab_nodes(tagger, text)
    cover = [None] * len(text)
    exact = set()
    for start, end, fields in nodes:
        exact.add((start, end))
        for c in range(start, end):
            cover[c] = fields
    pos, mismatched, at = [], 0, 0
    for t in tokens:
        pos.append(cover[at] or NO_POS)
        mismatched += (at, at + len(t)) not in exact
        at += len(t)
    return pos, mismatched


def run_hironsan(variant: str, length_as: str, mecab_char_type: bool = False) -> dict:
    sentences = hironsan_sentences()
    info = {}
    if variant == "corpus":
        pos = [cols for _, _, cols in sentences]
    else:
        tagger = new_tagger()
        pos, mismatched = [], 0
        for tokens, _, cols in sentences:
            p, m = mecab_pos(tagger, tokens)
            # with --mecab-char-type the corpus's character-type column (not a POS field) stays
            pos.append([(c[0], *f) for c, f in zip(cols, p)] if mecab_char_type else p)
            mismatched += m
        n_tokens = sum(len(t) for t, _, _ in sentences)
        info = {
            "tokens": n_tokens,
            "tokens_not_one_mecab_token": mismatched,
            "tokens_not_one_mecab_token_share": mismatched / n_tokens,
        }
    feats = [sentence_features(t, p, length_as) for (t, _, _), p in zip(sentences, pos)]
    gold_all, found_all, per_fold, seconds = [], [], [], []
    for k in range(5):
        train = [i for i in range(len(sentences)) if i % 5 != k]
        test = [i for i in range(len(sentences)) if i % 5 == k]
        predicted, secs = train_and_tag(
            [feats[i] for i in train], [sentences[i][1] for i in train], [feats[i] for i in test]
        )
        gold = [spans_from_tags(sentences[i][1]) for i in test]
        found = [spans_from_tags(p) for p in predicted]
        fold = score(gold, found)
        per_fold.append(
            {
                "fold": k,
                "train_sentences": len(train),
                "test_sentences": len(test),
                **{m: fold[m] for m in ("precision", "recall", "f1")},
                "seconds": secs,
            }
        )
        print(f"hironsan {variant} fold {k}: F1 {fold['f1']:.4f} ({secs:.0f} s)", flush=True)
        gold_all += gold
        found_all += found
        seconds.append(secs)
    pooled = score(gold_all, found_all)
    print(
        f"hironsan {variant} pooled: P {pooled['precision']:.4f} R {pooled['recall']:.4f} F1 {pooled['f1']:.4f}",
        flush=True,
    )
    return {"pooled": pooled, "per_fold": per_fold, "seconds": sum(seconds), **info}


# ----------------------------------------------------------------------------- Stockmark


def stockmark_tokens(tagger, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """MeCab nodes as tokens, whitespace removed (a node holding whitespace is cut around it)."""
    out = []
    for start, end, fields in mecab_nodes(tagger, text):
        piece_start = None
        for c in range(start, end + 1):
            if c < end and not text[c].isspace():
                if piece_start is None:
                    piece_start = c
            elif piece_start is not None:
                out.append((piece_start, c, fields))
                piece_start = None
    return out


def split_at(tokens, boundaries: set[int]):
    out = []
    for start, end, fields in tokens:
        edges = [start, *(b for b in range(start + 1, end) if b in boundaries), end]
        out += [(a, b, fields) for a, b in zip(edges, edges[1:])]
    return out


def iob2_for(tokens, entities) -> list[str]:
    starts = {s: i for i, (s, _, _) in enumerate(tokens)}
    ends = {e: i + 1 for i, (_, e, _) in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    for s, e, kind in entities:
        if s in starts and e in ends and starts[s] < ends[e]:
            a, b = starts[s], ends[e]
            tags[a] = f"B-{kind}"
            for i in range(a + 1, b):
                tags[i] = f"I-{kind}"
    return tags


def run_stockmark(path: Path, length_as: str) -> dict:
    records = json.loads(path.read_text(encoding="utf-8"))
    tagger = new_tagger()
    train_x, train_y, test_x, test_tokens, gold = [], [], [], [], []
    splits = misaligned = lost_train = 0
    for i, record in enumerate(records):
        if i % 10 == 8:
            continue
        text = record["text"]
        entities = [(e["span"][0], e["span"][1], e["type"]) for e in record["entities"]]
        tokens = stockmark_tokens(tagger, text)
        if i % 10 == 9:
            starts, ends = {s for s, _, _ in tokens}, {e for _, e, _ in tokens}
            misaligned += sum(s not in starts or e not in ends for s, e, _ in entities)
            test_x.append(sentence_features([text[s:e] for s, e, _ in tokens], [f for _, _, f in tokens], length_as))
            test_tokens.append(tokens)
            gold.append(entities)
        else:
            split = split_at(tokens, {b for s, e, _ in entities for b in (s, e)})
            splits += len(split) - len(tokens)
            tags = iob2_for(split, entities)
            lost_train += len(entities) - sum(t.startswith("B-") for t in tags)
            train_x.append(sentence_features([text[s:e] for s, e, _ in split], [f for _, _, f in split], length_as))
            train_y.append(tags)
    predicted, secs = train_and_tag(train_x, train_y, test_x)
    found = [
        [(tokens[a][0], tokens[b - 1][1], kind) for a, b, kind in spans_from_tags(p)]
        for tokens, p in zip(test_tokens, predicted)
    ]
    result = score(gold, found)
    print(
        f"stockmark mecab test: P {result['precision']:.4f} R {result['recall']:.4f} "
        f"F1 {result['f1']:.4f} ({secs:.0f} s)",
        flush=True,
    )
    return {
        "test": result,
        "train_sentences": len(train_x),
        "test_sentences": len(test_x),
        "train_token_splits": splits,
        "train_entities_not_taggable": lost_train,
        "test_entities_misaligned": misaligned,
        "seconds": secs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["hironsan", "stockmark"], default="hironsan")
    parser.add_argument(
        "--pos", choices=["corpus", "mecab", "both"], default="both", help="POS columns (Stockmark: mecab only)"
    )
    parser.add_argument(
        "--length-as",
        choices=["number", "string"],
        default="number",
        help="the capped length as a numeric feature weight or as a categorical value",
    )
    parser.add_argument(
        "--mecab-char-type",
        action="store_true",
        help="Hironsan mecab variant: keep the corpus's character-type column beside the MeCab fields",
    )
    parser.add_argument("--stockmark", type=Path, default=STOCKMARK)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "crf-hironsan.json")
    args = parser.parse_args()
    import sklearn_crfsuite

    started = time.perf_counter()
    results = {
        "crf": {
            "package": f"sklearn-crfsuite {getattr(sklearn_crfsuite, '__version__', '?')}",
            "algorithm": "lbfgs",
            "c1": 0.1,
            "c2": 0.1,
            "max_iterations": 100,
            "all_possible_transitions": True,
            "length_as": args.length_as,
            "mecab_char_type": args.mecab_char_type,
        }
    }
    if args.data == "hironsan":
        results["protocol"] = "5-fold CV, fold k = sentences i % 5 == k, train on all of the other four folds, pooled"
        for variant in ["corpus", "mecab"] if args.pos == "both" else [args.pos]:
            results[f"hironsan/{variant}"] = run_hironsan(variant, args.length_as, args.mecab_char_type)
    else:
        if args.pos == "corpus":
            parser.error("Stockmark has no corpus POS columns: use --pos mecab")
        results["protocol"] = "train i % 10 not in (8, 9), test i % 10 == 9, dev unused; character spans"
        results["stockmark/mecab"] = run_stockmark(args.stockmark, args.length_as)
    results["wall_seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out} ({results['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
