"""CoNLL-style column files: one token a line, blank lines between sentences."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from eiwa.doc import Corpus, Sentence, sentence_from_tags
from eiwa.errors import DataError, EiwaError
from eiwa.readers import Options, reader
from eiwa.readers.files import Sample, read_text
from eiwa.tags import parse_tag, type_problem

# Columns are separated by ASCII spaces and tabs only: a full-width space (U+3000) can be a token.
COLUMN_SEPARATOR = re.compile(r"[ \t]+")


# A tag as the last column shows: O, or a B-/I-/E-/S-/L-/U- prefix or suffix with a type.
TAG_LIKE = re.compile(r"^(O|[BIESLU][-_]\S+|\S+[-_][BIESLU])$")


def _looks_like_conll(sample: Sample) -> bool:
    """Columns separated by spaces or tabs, the last of some row a tag."""
    rows = [COLUMN_SEPARATOR.split(line.strip()) for line in sample.lines if not line.startswith("-DOCSTART-")]
    return sample.record is None and any(len(row) >= 2 and TAG_LIKE.match(row[-1]) for row in rows)


@reader("conll", help="token-per-line columns", detect=_looks_like_conll)
def _read(path: Path, lang: str, options: Options) -> Corpus:
    return read_conll(path, lang, options.columns, options.token_prefix)


def read_conll(
    path: str | Path,
    lang: str = "en",
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
) -> Corpus:
    """CoNLL-style column files: one token a line, blank lines between sentences.

    `columns` names the columns (e.g. token,reading,pos,tag); it must contain `token` and, for
    training data, `tag`. Without it the first column is the token and the last the tag, and every
    row must have as many columns as the file's first row. IOB1, IOB2 and BIOES tags are accepted;
    invalid sequences are repaired as conlleval does. `-DOCSTART-` lines are skipped.
    """
    text = read_text(path)
    if columns is not None:
        columns = list(columns)
        if "token" not in columns:
            raise EiwaError(f"the CoNLL columns must include one named 'token', got {','.join(columns)}")
    sentences = [
        _conll_sentence(path, rows, columns, token_prefix, lang) for rows in _sentence_rows(path, text, columns)
    ]
    if not sentences:
        raise DataError(path, None, "no sentences found")
    return Corpus(sentences)


def _sentence_rows(path, text: str, columns: list[str] | None) -> Iterator[list[tuple[int, list[str]]]]:
    """Each sentence's rows as (line number, fields), every row checked to have the expected width."""
    rows: list[tuple[int, list[str]]] = []
    expected_width: int | None = len(columns) if columns else None
    width_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip(" \t\r\n")
        fields = COLUMN_SEPARATOR.split(line) if line else []
        if not fields or fields[0] == "-DOCSTART-":
            if rows:
                yield rows
                rows = []
            continue
        if expected_width is None:
            expected_width, width_line = len(fields), number
        if len(fields) != expected_width:
            told = "as --columns names" if columns else f"as on line {width_line}"
            raise DataError(path, number, f"expected {expected_width} columns {told}, found {len(fields)}")
        rows.append((number, fields))
    if rows:
        yield rows


def _conll_sentence(path, rows, columns, token_prefix, lang) -> Sentence:
    token_at = columns.index("token") if columns else 0
    if columns:
        tag_at = columns.index("tag") if "tag" in columns else None
    else:
        tag_at = -1 if len(rows[0][1]) > 1 else None  # a single column holds tokens only
    reading_at = columns.index("reading") if columns and "reading" in columns else None
    pos_at = columns.index("pos") if columns and "pos" in columns else None
    tokens, tags, readings, pos = [], [], [], []
    for number, fields in rows:
        token = fields[token_at]
        if token_prefix and token.startswith(token_prefix):
            token = token[len(token_prefix) :]
        if not token:
            raise DataError(path, number, "empty token after stripping the prefix")
        tokens.append(token)
        if tag_at is not None:
            tag = fields[tag_at]
            try:
                kind = parse_tag(tag)[1]
            except ValueError as error:
                raise DataError(path, number, f"unknown tag {tag!r}: {error}") from None
            if kind is not None and type_problem(kind):
                raise DataError(path, number, type_problem(kind))
            tags.append(tag)
        if reading_at is not None:
            reading = fields[reading_at]
            readings.append(None if reading in ("*", "_", "-") else reading)
        if pos_at is not None:
            pos.append((fields[pos_at],))
    if tag_at is None:
        tags = ["O"] * len(tokens)
    origin = f"{path}:{rows[0][0]}"
    return sentence_from_tags(
        tokens, tags, lang, readings if reading_at is not None else None, origin, pos if pos_at is not None else None
    )
