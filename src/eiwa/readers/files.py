"""Reading data files: text, JSON records and TOML, with errors that name the file and line."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eiwa.errors import DataError
from eiwa.persist.files import read_text as persisted_text

# tomllib ends its messages with where the error is: "Invalid value (at line 3, column 7)".
TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def read_text(path: str | Path) -> str:
    """A UTF-8 text file (a byte-order mark is dropped) that holds more than white space."""
    text = read_utf8(path)
    if not text.strip():
        raise DataError(path, None, "file is empty")
    return text


def read_utf8(path: str | Path, what: str = "file") -> str:
    """A UTF-8 file's text, without a byte-order mark; `what` names the file in the errors."""
    return persisted_text(path, DataError, what, drop_bom=True)


def read_toml(path: str | Path, what: str = "file") -> dict:
    """A TOML file's tables; a syntax error names the file and line (`what` names the file in the
    errors of reading it, e.g. "parts file")."""
    text = read_utf8(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        position = TOML_POSITION.search(str(error))
        reason = TOML_POSITION.sub("", str(error))
        if position is None:
            raise DataError(path, None, f"invalid TOML: {reason}") from None
        raise DataError(path, int(position[1]), f"invalid TOML: {reason} (column {position[2]})") from None


def json_records(path: str | Path) -> Iterator[tuple[int, object]]:
    """(line, record) pairs from a JSON array or from JSON Lines, with the line each record starts on."""
    yield from _records(path, read_text(path))


def _records(path: str | Path, text: str) -> Iterator[tuple[int, object]]:
    if text.lstrip().startswith("["):
        yield from _array_records(path, text)
    else:
        yield from _line_records(path, text)


def _array_records(path: str | Path, text: str) -> Iterator[tuple[int, object]]:
    # Decode the array element by element so that an error can name its line.
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    whitespace = re.compile(r"\s*")
    lines = _LineCounter(text)
    first = True
    while True:
        position = whitespace.match(text, position).end()
        line = lines.at(position)
        if position >= len(text):
            raise DataError(path, line, "unterminated JSON array")
        if text[position] == "]":
            if text[position + 1 :].strip():
                raise DataError(path, line, "unexpected text after the JSON array")
            return
        if not first:
            if text[position] != ",":
                raise DataError(path, line, "expected ',' or ']' between records")
            position = whitespace.match(text, position + 1).end()
            line = lines.at(position)
        first = False
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise DataError(path, text.count("\n", 0, error.pos) + 1, f"invalid JSON: {error.msg}") from None
        except RecursionError:
            raise DataError(path, line, "invalid JSON: nested too deeply") from None
        yield line, record


class _LineCounter:
    """Line numbers of increasing positions in a text, counting each newline once (a count from the
    start for every record made reading a large array quadratic)."""

    def __init__(self, text: str):
        self.text, self.position, self.line = text, 0, 1

    def at(self, position: int) -> int:
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _line_records(path: str | Path, text: str) -> Iterator[tuple[int, object]]:
    # Lines end at "\n" only, as JSON Lines says: U+2028 or U+0085, which JSON leaves raw, is text.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            _refuse_spread_records(path, text)
            raise DataError(path, number, f"invalid JSON: {error.msg}") from None
        except RecursionError:
            raise DataError(path, number, "invalid JSON: nested too deeply") from None
        yield number, record


def text_records(path: str | Path, what: str = "record") -> Iterator[tuple[int, dict]]:
    """(line, record) pairs of `json_records`, each checked to be an object with a "text" string."""
    for line, record in json_records(path):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(path, line, f'each {what} must be an object with a "text" string')
        yield line, record


class SpreadRecordsError(DataError):
    """JSON that is valid, but with records spread over several lines where JSON Lines wants one a line."""


def _refuse_spread_records(path: str | Path, text: str) -> None:
    """Raises `SpreadRecordsError` when `text`, which is not JSON Lines, is JSON values one after the
    other (a pretty-printed object, or several): "invalid JSON" would send the user looking for a
    syntax error that is not there."""
    values = _json_values(text)
    spread = next(((start, end) for start, end in values if "\n" in text[start:end]), None)
    if spread is None:
        return
    line = _LineCounter(text).at(spread[0])
    if len(values) == 1:
        kind = "object" if text[spread[0]] == "{" else "value"
        raise SpreadRecordsError(
            path,
            line,
            f"one JSON {kind} spread over {text.count(chr(10), *spread) + 1} lines; expected a JSON array of "
            "records ([{...}, {...}]) or JSON Lines (one record a line)",
        )
    raise SpreadRecordsError(
        path,
        line,
        f"a JSON record spread over several lines (of {len(values)} records); JSON Lines holds one record a "
        "line (or put the records in a JSON array: [{...}, {...}])",
    )


def _json_values(text: str) -> list[tuple[int, int]]:
    """(start, end) of each of the JSON values that make up `text`; empty when `text` is not such a sequence."""
    decoder, whitespace = json.JSONDecoder(), re.compile(r"\s*")
    values, position = [], whitespace.match(text).end()
    while position < len(text):
        try:
            _, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            return []
        values.append((position, end))
        position = whitespace.match(text, end).end()
    return values


@dataclass(frozen=True)
class Sample:
    """The start of a data file, for telling its format and language: its first lines, and its first
    JSON records (none when the file is not JSON or JSON Lines)."""

    lines: list[str]
    records: list[object]
    line: int | None = None  # where the first record starts

    @property
    def record(self) -> object | None:
        return self.records[0] if self.records else None

    def texts(self) -> list[str]:
        """The texts the sample holds: each record's "text" (Label Studio's under "data"), else the
        first column of each line (a CoNLL file's tokens)."""
        if not self.records:
            return [line.split()[0] for line in self.lines]
        data = [r.get("data") if isinstance(r, dict) and isinstance(r.get("data"), dict) else r for r in self.records]
        return [d["text"] for d in data if isinstance(d, dict) and isinstance(d.get("text"), str)]


SAMPLE_LINES = 200
SAMPLE_RECORDS = 50


def sample(path: str | Path) -> Sample:
    """The first non-blank lines of a data file and, when it is JSON or JSON Lines, its first records."""
    text = read_text(path)
    lines = [line for line in text.splitlines()[: SAMPLE_LINES * 2] if line.strip()][:SAMPLE_LINES]
    if not lines[0].lstrip().startswith(("[", "{")):
        return Sample(lines, [])
    records = []
    try:
        for line, record in _records(path, text):
            records.append((line, record))
            if len(records) == SAMPLE_RECORDS:
                break
    except SpreadRecordsError:
        raise  # JSON for sure, but not laid out as records: say so rather than "cannot tell the format"
    except DataError:  # TOML's [[part]] starts with "[" too; it is not JSON
        pass
    if not records:
        return Sample(lines, [])
    return Sample(lines, [record for _, record in records], records[0][0])
