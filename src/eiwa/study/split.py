"""Splitting a data file into train, dev and test files, each in the file's own format.

Which records go where: without sizes, the shared protocol's index rule (record i is dev when
i % 10 == 8, test when i % 10 == 9, ../shared/data/README.md); with `dev` and `test` as counts
(100) or fractions (0.1), the last records of the file are test and those before them dev, or,
with `shuffle`, the same cut of the records shuffled by `seed`.

Every file is read first with its format's reader, so that a bad file fails with its line before
anything is written, and records are then copied as they stand wherever the format allows: CoNLL
sentence blocks with their own line endings, JSON Lines records line by line, Label Studio tasks
as they stand in the export's list. Formats held in other shapes are written as:

* spans and doccano from a JSON array (Stockmark's pretty-printed file): JSON Lines, a record
  spread over several lines written on one;
* hironsan (the installed corpus, no file): CoNLL columns token, pos (its four levels joined by
  '-'), reading and tag (read them back with --format conll --columns token,pos,reading,tag);
* parts: for each part of the data a parts file (train.toml, ...) listing one file per part of the
  input that has records there (train-1.conll, ...), each with the input part's keys.
"""

from __future__ import annotations

import json
import numbers
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eiwa.errors import DataError, EiwaError
from eiwa.persist.atomic import check_writable_directory, json_text, write_atomic
from eiwa.readers import READERS, reader_of
from eiwa.readers.conll import COLUMN_SEPARATOR, read_conll
from eiwa.readers.files import read_text, read_toml
from eiwa.readers.parts import PART_KEYS
from eiwa.readers.spans import read_doccano_records, read_label_studio_records, read_span_records
from eiwa.study.folds import shared_split

PARTS = ("train", "dev", "test")
HIRONSAN_COLUMNS = "token,pos,reading,tag"
# Line breaks to str.splitlines that json.dumps leaves raw (it escapes those below U+0020).
LINE_BREAKS_IN_STRINGS = ("\x85", "\u2028", "\u2029")
Size = int | float  # a count of records, or a fraction of them (0 < fraction < 1)


@dataclass(frozen=True)
class Source:
    """One input file's records as text, and how a part file of them is written and read back."""

    records: list[str]
    suffix: str
    join: Callable[[list[str]], str]
    keys: dict = field(default_factory=dict)  # how to read the part files back: format, columns, ...


@dataclass(frozen=True)
class Split:
    """What `split_file` wrote: each part's record count and file (None: the part is empty)."""

    counts: dict[str, int]
    files: dict[str, Path | None]
    read_as: str  # the options that read the files back, e.g. "--format spans"


def splittable() -> list[str]:
    """The formats `split_file` can split: every registered format with gold entities."""
    return [name for name in READERS if name in _FILE_SOURCES or name in ("hironsan", "parts")]


def split_file(
    path: str | Path | None,
    out_dir: str | Path,
    format: str = "spans",
    dev: Size | None = None,
    test: Size | None = None,
    shuffle: bool = False,
    seed: int = 1,
    columns: Sequence[str] | None = None,
) -> Split:
    """Write train/dev/test files of `path` into `out_dir` (module docstring). `dev` and `test`:
    counts or fractions; one left out is 0 when the other is given, and both are a tenth when
    neither is (with `shuffle`; without it, the protocol's rule). `columns`: how a CoNLL file is
    checked, as train reads it."""
    sources = _sources(path, format, columns)
    items = [(k, record) for k, source in enumerate(sources) for record in source.records]
    chosen = part_positions(len(items), dev, test, shuffle, seed)
    directory = Path(out_dir)
    check_writable_directory(directory, "the split")
    directory.mkdir(parents=True, exist_ok=True)
    files = {name: _write_part(directory, name, sources, [items[i] for i in chosen[name]]) for name in PARTS}
    counts = {name: len(chosen[name]) for name in PARTS}
    read_as = "--format parts" if format == "parts" else _read_options(sources[0].keys)
    return Split(counts, files, read_as)


def part_positions(count: int, dev: Size | None, test: Size | None, shuffle: bool, seed: int) -> dict[str, list[int]]:
    """Which of `count` records (by position) each part gets."""
    if dev is None and test is None and not shuffle:
        return dict(zip(PARTS, shared_split(count)))
    if dev is None and test is None:
        dev = test = 0.1
    dev_count, test_count = _sizes(count, dev or 0, test or 0)
    order = list(range(count))
    if shuffle:
        random.Random(seed).shuffle(order)
    train_end = count - dev_count - test_count
    return {
        "train": order[:train_end],
        "dev": order[train_end : count - test_count],
        "test": order[count - test_count :],
    }


def _sizes(count: int, dev: Size, test: Size) -> tuple[int, int]:
    """Counts of dev and test records; an error for sizes that do not fit the data."""
    sizes = {"dev": dev, "test": test}
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise EiwaError(f"--{name} must be a count (100) or a fraction (0.1), got {size!r}")
        sizes[name] = size = int(size) if isinstance(size, numbers.Integral) else float(size)
        if isinstance(size, float) and not 0 < size < 1:
            raise EiwaError(f"--{name} {size}: a fraction must be between 0 and 1; a count is a whole number")
        if isinstance(size, int) and size < 0:
            raise EiwaError(f"--{name} {size}: a count cannot be negative")
        if isinstance(size, int) and size > count:
            raise EiwaError(f"--{name} {size}: the data has {count} records")
    fractions = [size for size in sizes.values() if isinstance(size, float)]
    if len(fractions) == 2 and sum(fractions) >= 1:
        raise EiwaError(f"--dev {dev} and --test {test} sum to 1 or more: nothing is left to train on")
    counts = {name: round(size * count) if isinstance(size, float) else size for name, size in sizes.items()}
    for name, size in sizes.items():
        if isinstance(size, float) and counts[name] == 0:
            raise EiwaError(f"--{name} {size} of {count} records is no record: give a count or a larger fraction")
    if counts["dev"] + counts["test"] >= count:
        raise EiwaError(
            f"--dev {dev} and --test {test} take {counts['dev'] + counts['test']} of the data's {count} records: "
            "nothing is left to train on"
        )
    return counts["dev"], counts["test"]


def _write_part(directory: Path, name: str, sources: list[Source], items: list[tuple[int, str]]) -> Path | None:
    """The part's file (a parts file for several sources), or None when the part has no record."""
    if not items:
        return None
    if len(sources) == 1:
        return _write(directory / f"{name}.{sources[0].suffix}", sources[0].join([record for _, record in items]))
    entries = []
    for k, source in enumerate(sources):
        records = [record for at, record in items if at == k]
        if records:
            written = _write(directory / f"{name}-{k + 1}.{source.suffix}", source.join(records))
            entries.append({"path": str(written), **source.keys})
    toml = "".join(
        "[[part]]\n" + "".join(f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in entry.items())
        for entry in entries
    )
    return _write(directory / f"{name}.toml", toml)


def _write(path: Path, text: str) -> Path:
    write_atomic(path, lambda target: Path(target).write_text(text, encoding="utf-8", newline=""))
    return path


def _read_options(keys: dict) -> str:
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in keys.items() if key != "pos")


# ----------------------------------------------------------------------------- the formats


def _sources(path: str | Path | None, format: str, columns: Sequence[str] | None) -> list[Source]:
    reader_of(format)  # an unknown format: the error that lists them
    if format == "parts":
        if path is None:
            raise EiwaError("--format parts needs a data path")
        return _parts_sources(Path(path))
    if format == "hironsan":
        return [_hironsan_source()]
    if format not in _FILE_SOURCES:
        raise EiwaError(f"split cannot write {format} files; it splits {', '.join(splittable())}")
    if path is None:
        raise EiwaError(f"--format {format} needs a data path")
    return [_FILE_SOURCES[format](Path(path), columns)]


def _checked(path: Path, records: list[str], read_count: int) -> list[str]:
    if len(records) != read_count:  # the records found here must be the reader's, one for one
        raise DataError(path, None, f"found {len(records)} records where the reader finds {read_count}")
    return records


def _conll_source(path: Path, columns: Sequence[str] | None) -> Source:
    """Sentence blocks as the CoNLL reader finds them (blank and -DOCSTART- lines end one), each
    with its own line endings; part files put one blank line between them."""
    read_count = len(read_conll(path, "en", columns).sentences)
    records, block = [], []
    for line in read_text(path).splitlines(keepends=True):
        content = line.splitlines()[0].strip(" \t\r\n")  # as the reader sees the line
        if not content or COLUMN_SEPARATOR.split(content)[0] == "-DOCSTART-":
            if block:
                records.append("".join(block))
                block = []
            continue
        block.append(line if _ends_line(line) else line + "\n")
    if block:
        records.append("".join(block))
    newline = "\r\n" if records and records[0].endswith("\r\n") else "\n"
    keys = {"format": "conll", **({"columns": ",".join(columns)} if columns else {})}
    return Source(_checked(path, records, read_count), "conll", lambda chosen: newline.join(chosen), keys)


def _ends_line(line: str) -> bool:
    """Whether `line` (from splitlines(keepends=True)) ends with a line break of its own."""
    return line.splitlines()[0] != line


def _json_texts(path: Path) -> tuple[list[str], bool]:
    """Each record's text as it stands in the file (already checked by a reader), and whether the
    file is a JSON array (else JSON Lines)."""
    text = read_text(path)
    if not text.lstrip().startswith("["):
        return [line for line in text.splitlines(keepends=True) if line.strip()], False
    decoder, position, records = json.JSONDecoder(), text.index("[") + 1, []
    while True:
        position = len(text) - len(text[position:].lstrip())
        if text[position] == "]":
            return records, True
        if text[position] == ",":
            position = len(text) - len(text[position + 1 :].lstrip())
        _, end = decoder.raw_decode(text, position)
        records.append(text[position:end])
        position = end


def _as_json_line(record: str) -> str:
    """A record as one JSON Lines line: as it stands when it is one line, else re-serialized, with
    the characters Python reads as line breaks escaped (they may stand raw inside JSON strings)."""
    if len(record.splitlines()) == 1:
        return record if _ends_line(record) else record + "\n"
    line = json_text(json.loads(record))
    for character in LINE_BREAKS_IN_STRINGS:
        line = line.replace(character, f"\\u{ord(character):04x}")
    return line + "\n"


def _json_lines_source(check: Callable[[Path], list], format: str) -> Callable[[Path, object], Source]:
    def source(path: Path, _columns) -> Source:
        texts, _ = _json_texts(path)
        records = _checked(path, [_as_json_line(t) for t in texts], len(check(path)))
        return Source(records, "jsonl", "".join, {"format": format})

    return source


def _label_studio_source(path: Path, _columns) -> Source:
    """Tasks as they stand, in a JSON list (Label Studio imports lists)."""
    texts, _ = _json_texts(path)
    records = _checked(path, [t.rstrip("\r\n") for t in texts], len(read_label_studio_records(path, _ignore)))
    return Source(records, "json", lambda chosen: "[\n" + ",\n".join(chosen) + "\n]\n", {"format": "label-studio"})


def _ignore(_line: str) -> None:
    """Readers' notes on keys they do not use: the split copies every key, so they do not apply."""


def _hironsan_source() -> Source:
    from eiwa.readers.hironsan import read_hironsan

    rows = _hironsan_rows()
    records = ["".join(_hironsan_line(row) for row in sentence) for sentence in rows]
    if len(records) != len(read_hironsan().sentences):
        raise EiwaError("the Hironsan corpus: its rows and its sentences disagree")
    keys = {"format": "conll", "columns": HIRONSAN_COLUMNS}
    return Source(records, "conll", "\n".join, keys)


def _hironsan_rows() -> list:
    from hironsan import corpus as hironsan_corpus

    return [rows for split in ("train", "test") for rows in hironsan_corpus.hiron2016.iob_sents(split)]


def _hironsan_line(row: Sequence[str]) -> str:
    """One row as CoNLL columns token, pos, reading, tag, as readers/hironsan.py reads the row."""
    space = len(row) == 11 and row[0] == "ZSPACE"  # a full-width space's row lost its surface
    token = "\u3000" if space else row[0]
    pos = "-".join(row[1:5] if space else row[2:6])
    reading = row[9] if len(row) > 10 and row[9] != "*" else "*"
    return f"{token}\t{pos}\t{reading}\t{row[-1]}\n"


def _parts_sources(path: Path) -> list[Source]:
    """One source per [[part]], with that part's keys, checked as the parts reader checks them."""
    parts = read_toml(path, "parts file").get("part")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise DataError(path, None, "expected one or more [[part]] tables")
    sources = []
    for number, part in enumerate(parts, 1):
        unknown = sorted(set(part) - PART_KEYS)
        if unknown:
            raise DataError(path, None, f"part {number}: unknown key(s) {', '.join(unknown)}")
        fmt = part.get("format", "conll")
        if fmt == "parts" or fmt not in READERS:
            formats = ", ".join(f for f in READERS if f != "parts")
            raise DataError(path, None, f"part {number}: format must be one of {formats}, got {fmt!r}")
        columns = part.get("columns")
        columns = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
        [source] = _sources(part.get("path"), fmt, columns)
        extra = {key: part[key] for key in ("token_prefix", "pos") if key in part}
        sources.append(Source(source.records, source.suffix, source.join, {**source.keys, **extra}))
    return sources


_FILE_SOURCES: dict[str, Callable[[Path, Sequence[str] | None], Source]] = {
    "conll": _conll_source,
    "spans": _json_lines_source(read_span_records, "spans"),
    "doccano": _json_lines_source(lambda path: read_doccano_records(path, _ignore), "doccano"),
    "label-studio": _label_studio_source,
}
