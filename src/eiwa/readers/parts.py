"""`--format parts`: several corpora, each in its own format, read as one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eiwa.doc import Corpus, Sentence
from eiwa.errors import DataError
from eiwa.readers import READERS, Options, read, reader
from eiwa.readers.files import Sample, read_toml

PART_KEYS = {"format", "path", "columns", "token_prefix", "pos"}


def _looks_like_parts(sample: Sample) -> bool:
    return any(line.strip().replace(" ", "") == "[[part]]" for line in sample.lines)


@reader(
    "parts",
    detect=_looks_like_parts,
    holds_text=False,
    help="a TOML file listing corpora read as one, each with its own format and columns (see eiwa.readers.parts)",
)
def read_parts(path: Path, lang: str, options: Options) -> Corpus:
    """A TOML file listing corpora read as one, each in its own format, e.g.

        [[part]]
        path = "../shared/data/conll2003/train.txt"
        columns = "token,pos,chunk,tag"
        [[part]]
        path = "../shared/data/wikiann-en/train"
        columns = "token,tag"
        token_prefix = "en:"
        pos = "missing"

    `format` defaults to conll; paths are relative to the directory the command runs in, as on the
    command line. `pos = "missing"` marks a part without a POS column: its tokens read the unknown
    part of speech (instead of the pos feature refusing them), so that a model can learn from a
    corpus that has POS and one that has not."""
    parts = read_toml(path, "parts file").get("part")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise DataError(path, None, "expected one or more [[part]] tables")
    sentences: list[Sentence] = []
    splits = 0
    for number, part in enumerate(parts, 1):
        corpus = _read_part(part, f"part {number}", path, lang, options)
        sentences += corpus.sentences
        splits += corpus.token_splits
    return Corpus(sentences, splits)


def _read_part(part: dict, name: str, path: Path, lang: str, options: Options) -> Corpus:
    unknown = sorted(set(part) - PART_KEYS)
    if unknown:
        raise DataError(
            path, None, f"{name}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(PART_KEYS))})"
        )
    fmt = part.get("format", "conll")
    if fmt == "parts" or fmt not in READERS:
        formats = ", ".join(f for f in READERS if f != "parts")
        raise DataError(path, None, f"{name}: format must be one of {formats}, got {fmt!r}")
    if part.get("pos", "present") not in ("present", "missing"):
        raise DataError(path, None, f"{name}: pos must be present or missing, got {part['pos']!r}")
    columns = part.get("columns")
    columns = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
    corpus = read(
        part.get("path"),
        fmt,
        lang,
        columns=columns,
        token_prefix=part.get("token_prefix"),
        split_tokens=options.split_tokens,
        warn=options.warn,
        allow_empty=options.allow_empty,
    )
    if part.get("pos") == "missing":
        corpus.sentences = [_without_pos(s) for s in corpus.sentences]
    return corpus


def _without_pos(sentence: Sentence) -> Sentence:
    """Tokens without a POS of their corpus marked `()`: the pos feature reads them as unknown, not refusing them."""
    return replace(sentence, tokens=[replace(t, corpus_pos=()) if t.corpus_pos is None else t for t in sentence.tokens])
