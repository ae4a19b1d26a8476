"""What a corpus' labels mean: from its documentation, or from the user's own labels file.

A model records one line per entity type (meta.json "labels"), so that `PER` can be told to mean a
person in one model and a percentage in another. The meanings come from, in order of precedence:

* the user's labels file (`--labels labels.toml`, or a mapping in Python): a TOML table of
  `TYPE = "what it means"`, one line per type; types with characters other than A-Z, a-z, 0-9, _
  and - are quoted (`"人名" = "person"`). Every type must be a label of the training data;
* the format's reader, when the format is one corpus (`@reader(..., labels=...)`: Hironsan's);
* the documentation of a known corpus whose label set the data's equals exactly (`DOCUMENTED`:
  CoNLL-2003, WikiANN, Stockmark's Wikipedia NER set, and the readers' own), so that a file of
  these corpora in a general format (CoNLL columns, JSON spans) is explained too, while a subset or
  another set is not guessed at (PER is a person in CoNLL-2003 and a percentage in Hironsan's).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from eiwa.errors import DataError
from eiwa.persist.files import read_text

CONLL2003 = {
    "PER": "person: names of people, real or fictional",
    "LOC": "location: countries, regions, cities, natural features and other places",
    "ORG": "organization: companies, institutions, governments, sports teams and other groups",
    "MISC": "miscellaneous: other names, such as nationalities, languages, events and works",
}
WIKIANN = {key: CONLL2003[key] for key in ("PER", "LOC", "ORG")}
STOCKMARK = {
    "人名": "person: real and fictional people's names",
    "法人名": "corporation: companies and other legal persons (businesses, foundations)",
    "政治的組織名": "political organization: governments, ministries, parties, parliaments, armed forces",
    "その他の組織名": "other organization: schools, sports teams, bands, religious and other groups",
    "地名": "place: countries, regions, cities, natural features",
    "施設名": "facility: buildings, stations, airports, roads, parks and other built places",
    "製品名": "product: goods, works, services and brands",
    "イベント名": "event: wars, conferences, competitions, festivals, incidents",
}
DOCUMENTED: dict[str, dict[str, str]] = {
    "CoNLL-2003": CONLL2003,
    "WikiANN": WIKIANN,
    "Stockmark Wikipedia NER": STOCKMARK,
}

_TOML_ERROR_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def documented_meanings(types: Sequence[str], more: Sequence[Mapping[str, str]] = ()) -> dict[str, str]:
    """The meanings of a known corpus (`DOCUMENTED`, or one of `more`) whose label set is exactly
    `types`; {} for any other set."""
    wanted = set(types)
    for meanings in [*DOCUMENTED.values(), *more]:
        if set(meanings) == wanted:
            return {name: meanings[name] for name in sorted(wanted)}
    return {}


def read_label_meanings(source: str | Path | Mapping[str, str], types: Sequence[str]) -> dict[str, str]:
    """The meanings a labels file (or, from Python, a mapping) gives, checked: each a non-empty string,
    each type one of `types` (the training data's). A problem is one line naming the file and line."""
    if isinstance(source, Mapping):
        return _checked(dict(source), types, "labels", {})
    path = Path(source)
    text = read_text(path, DataError, "labels file")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_ERROR_LINE.search(str(error))
        message = _TOML_ERROR_LINE.sub("", str(error)).strip()
        raise DataError(path, int(found.group(1)) if found else None, f"not valid TOML ({message})") from None
    return _checked(table, types, path, _key_lines(text))


def _checked(table: dict, types: Sequence[str], origin: str | Path, lines: dict[str, int]) -> dict[str, str]:
    if not table:
        raise DataError(origin, None, 'names no label: write one line per type, TYPE = "what it means"')
    for name, meaning in table.items():
        if not isinstance(meaning, str) or not meaning.strip():
            raise DataError(origin, lines.get(name), f'{name}: the meaning must be a non-empty string (TYPE = "...")')
        if name not in types:
            raise DataError(
                origin, lines.get(name), f"{name} is not a label of the training data ({', '.join(sorted(types))})"
            )
    return {name: " ".join(meaning.split()) for name, meaning in table.items()}


def _key_lines(text: str) -> dict[str, int]:
    """The line each top-level key or table of a TOML text is defined on (the first, if repeated)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            parsed = tomllib.loads(line)
        except tomllib.TOMLDecodeError:
            continue  # a continuation line of a multi-line string, or not a definition
        for key in parsed:
            lines.setdefault(key, number)
    return lines
