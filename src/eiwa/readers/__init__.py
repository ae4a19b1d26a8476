"""Readers: files on disk -> a `Corpus`, by format name.

Every reader gives the same thing: a sentence's text, its tokens with character offsets into
that text, optional per-token readings (katakana, for Japanese romanization), and the gold
entities as character spans (`eiwa.doc`). Each reader module registers its formats with
`@reader`; `read` finds the reader by name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eiwa.doc import Corpus
from eiwa.errors import EiwaError


@dataclass(frozen=True)
class Options:
    """How to read, beyond path and language; each reader uses those that concern its format."""

    columns: Sequence[str] | None = None  # CoNLL: the columns' names, e.g. token,pos,tag
    token_prefix: str | None = None  # CoNLL: stripped from every token (WikiANN: "en:")
    split_tokens: bool = False  # raw text: split tokens at gold entity boundaries (training data)
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # notes that do not stop reading


@dataclass(frozen=True)
class Reader:
    """A data format: its name, its reading function, and its line of --format help.

    A raw-text format holds character spans over untokenized text: its training view splits tokens
    at entity boundaries, so it is scored on a separately, plainly tokenized view of the same data."""

    name: str
    read: Callable[[Path | None, str, Options], Corpus]
    raw_text: bool
    help: str
    needs_path: bool = True


READERS: dict[str, Reader] = {}


def reader(name: str, help: str, raw_text: bool = False, needs_path: bool = True):
    """Registers the decorated `(path, lang, options) -> Corpus` as the reader of format `name`."""

    def register(function):
        READERS[name] = Reader(name, function, raw_text, help, needs_path)
        return function

    return register


def read(path: str | Path | None, format: str = "conll", lang: str = "en", **options) -> Corpus:
    """A corpus in any registered format; `path` is not needed for the installed Hironsan corpus.
    Options (see `Options`): columns, token_prefix, split_tokens, warn."""
    found = reader_of(format)
    if path is None and found.needs_path:
        raise EiwaError(f"--format {format} needs a data path")
    return found.read(path, lang, Options(**options))


def read_gold(path: str | Path | None, format: str = "conll", lang: str = "en", **options) -> Corpus:
    """A corpus to score against: as `read`, refused when it holds no gold entity (every F1 would be 0)."""
    corpus = read(path, format, lang, **options)
    if not any(s.entities for s in corpus.sentences):
        raise EiwaError(
            f"{path or format}: no gold entities to score against (every F1 would be 0); "
            "is the tag column right (see --columns)?"
        )
    return corpus


def raw_text(format: str) -> bool:
    """Whether `format` is raw text with character spans, to be scored on its own tokenized view."""
    return reader_of(format).raw_text


def reader_of(format: str) -> Reader:
    if format not in READERS:
        raise EiwaError(f"unknown format {format!r}; expected one of {', '.join(READERS)}")
    return READERS[format]


# Each module registers its formats on import; this order is the order --format lists them in.
# isort: off
from eiwa.readers import conll, spans, hironsan, parts  # noqa: E402, F401
# isort: on
