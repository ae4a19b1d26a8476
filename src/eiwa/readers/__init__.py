"""Readers: files on disk -> a `Corpus`, by format name.

Every reader gives the same thing: a sentence's text, its tokens with character offsets into
that text, optional per-token readings (katakana, for Japanese romanization), and the gold
entities as character spans (`eiwa.doc`). Each reader module registers its formats with
`@reader`; `read` finds the reader by name, and `infer_format` by what a file holds (each reader
registers a `detect` test of a file's first record or lines).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eiwa.doc import Corpus
from eiwa.errors import DataError, EiwaError
from eiwa.readers.files import Sample, sample


@dataclass(frozen=True)
class Options:
    """How to read, beyond path and language; each reader uses those that concern its format."""

    columns: Sequence[str] | None = None  # CoNLL: the columns' names, e.g. token,pos,tag
    token_prefix: str | None = None  # CoNLL: stripped from every token (WikiANN: "en:")
    split_tokens: bool = False  # raw text: split tokens at gold entity boundaries (training data)
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # notes that do not stop reading
    allow_empty: bool = False  # Label Studio: keep tasks nobody annotated (as texts without entities)


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
    detect: Callable[[Sample], bool] | None = None  # whether a file's first record or lines are this format
    lang: str | None = None  # the language of a fixed corpus (the installed Hironsan corpus: ja)
    holds_text: bool = True  # False: the file lists other files (parts), its own text tells nothing
    labels: Mapping[str, str] | None = None  # what its labels mean, for a format that is one corpus


READERS: dict[str, Reader] = {}


def reader(
    name: str,
    help: str,
    raw_text: bool = False,
    needs_path: bool = True,
    detect: Callable[[Sample], bool] | None = None,
    lang: str | None = None,
    holds_text: bool = True,
    labels: Mapping[str, str] | None = None,
):
    """Registers the decorated `(path, lang, options) -> Corpus` as the reader of format `name`;
    `labels`: type -> meaning, from the documentation of the one corpus the format reads."""

    def register(function):
        READERS[name] = Reader(name, function, raw_text, help, needs_path, detect, lang, holds_text, labels)
        return function

    return register


def read(path: str | Path | None, format: str | None = None, lang: str = "en", **options) -> Corpus:
    """A corpus in any registered format (None: the one the file's content shows); `path` is not
    needed for the installed Hironsan corpus. Options (see `Options`): columns, token_prefix,
    split_tokens, warn, allow_empty."""
    if format is None:
        if path is None:
            raise EiwaError("give a data path, or the format (hironsan: the installed Hironsan corpus)")
        format = infer_format(path)
    found = reader_of(format)
    if path is None and found.needs_path:
        raise EiwaError(f"format {format} needs a data path")
    return found.read(path, lang, Options(**options))


def read_gold(path: str | Path | None, format: str | None = None, lang: str = "en", **options) -> Corpus:
    """A corpus to score against: as `read`, refused when it holds no gold entity (every F1 would be 0)."""
    format = format or (infer_format(path) if path is not None else None)
    corpus = read(path, format, lang, **options)
    if not any(s.entities for s in corpus.sentences):
        raise EiwaError(
            f"{path or format}: no gold entities to score against (every F1 would be 0){no_entities_hint(format)}"
        )
    return corpus


def no_entities_hint(format: str | None) -> str:
    """What to check when a file holds no entities: the tag column, for the one format that has columns."""
    return "; is the tag column right (see --columns)?" if format == "conll" else ""


def raw_text(format: str) -> bool:
    """Whether `format` is raw text with character spans, to be scored on its own tokenized view."""
    return reader_of(format).raw_text


def infer_format(path: str | Path, seen: Sample | None = None) -> str:
    """The format a data file's content shows (JSON record shapes, TOML parts, CoNLL columns): the
    first registered reader whose `detect` accepts the file's first record or lines (`seen`, when
    the caller has read them already)."""
    seen = seen or sample(path)
    for found in READERS.values():
        if found.detect is not None and found.detect(seen):
            return found.name
    detectable = ", ".join(r.name for r in READERS.values() if r.detect)
    raise DataError(path, seen.line, f"cannot tell the format ({detectable}): give --format")


def sample_text(path: str | Path | None, format: str, seen: Sample | None = None) -> str | None:
    """The start of a data file's texts (from `seen`, when the caller has read it), to tell its
    language by; None where there is none of its own (a fixed corpus, a parts file)."""
    found = reader_of(format)
    if path is None or found.lang or not found.holds_text:
        return None
    return "".join((seen or sample(path)).texts()) or None


def label_meanings(
    format: str, types: Sequence[str], given: str | Path | Mapping[str, str] | None = None
) -> dict[str, str]:
    """What the data's labels (`types`) mean: those `given` (a labels file or a mapping, checked:
    readers/labels.py) over the data's documentation (the format's own corpus, or a known corpus with
    exactly these labels). Types nobody explains are left out."""
    from eiwa.readers.labels import documented_meanings, read_label_meanings

    declared = reader_of(format).labels
    if declared:
        documented = {name: declared[name] for name in types if name in declared}
    else:
        documented = documented_meanings(types, [r.labels for r in READERS.values() if r.labels])
    meanings = {**documented, **(read_label_meanings(given, types) if given is not None else {})}
    return {name: meanings[name] for name in sorted(types) if name in meanings}


def reader_of(format: str) -> Reader:
    if format not in READERS:
        raise EiwaError(f"unknown format {format!r}; expected one of {', '.join(READERS)}")
    return READERS[format]


# Each module registers its formats on import; this order is the order --format lists them in.
# isort: off
from eiwa.readers import conll, spans, hironsan, parts  # noqa: E402, F401
# isort: on
