"""Vocabularies (string <-> id) and the token strings they hold: normalised words, casing classes,
character bigrams."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

PAD, UNK = "<pad>", "<unk>"
BEGIN, END = "\x02", "\x03"  # word boundary markers for character bigrams
# Words whose normal form and casing are kept: encoding asks once per distinct word of a chunk, so a
# bound this size keeps the common words at about 20 MB for both caches.
_CACHED_WORDS = 65_536
CASES = ("<pad>", "lower", "upper_initial", "all_upper", "mixed", "numeric", "has_digit", "other")


class Vocab:
    """String <-> id, with padding at 0 and the unknown entry at 1."""

    def __init__(self, items: Iterable[str] = (), counts: Sequence[int] | None = None, inherited: int = 0):
        # Ids below `inherited` were copied, rows and all, from a source model's vocabulary (transfer).
        self.inherited = inherited
        self.items = [PAD, UNK]
        self.ids = {PAD: 0, UNK: 1}
        for item in items:
            if item not in self.ids:
                self.ids[item] = len(self.items)
                self.items.append(item)
        self.counts = list(counts) if counts is not None else [0] * len(self.items)

    @classmethod
    def by_frequency(cls, counts: Counter, min_count: int = 1, extra: Sequence[str] = ()) -> Vocab:
        """Items by frequency (at least min_count), then `extra` items; counts kept for singleton dropout."""
        items = [item for item, n in counts.most_common() if n >= min_count]
        items += [item for item in extra if item not in counts]
        vocab = cls(items)
        vocab.counts = [0, 0] + [counts.get(item, 0) for item in vocab.items[2:]]
        return vocab

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.ids

    def index(self, item: str) -> int:
        return self.ids.get(item, 1)

    def to_json(self) -> dict:
        return {"items": self.items[2:], "counts": self.counts, "inherited": self.inherited}

    @classmethod
    def from_json(cls, data: dict, name: str = "vocabulary") -> Vocab:
        """A saved vocabulary, checked: its ids are the rows of saved weights, so an item that is not a
        string, or a repeated one (which would shift every later id), is refused by `name`."""
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError(f"{name} must be an object with a list of items")
        items = data["items"]
        check_strings(items, name)
        counts, inherited = data.get("counts"), data.get("inherited", 0)
        if counts is not None and not (
            isinstance(counts, list) and len(counts) == len(items) + 2 and all(_is_count(n) for n in counts)
        ):
            raise ValueError(f"{name}: counts must be a list of {len(items) + 2} non-negative integers")
        if not (_is_count(inherited) and inherited <= len(items) + 2):
            raise ValueError(f"{name}: inherited must be an integer in [0, {len(items) + 2}], got {inherited!r}")
        return cls(items, counts, inherited)


def check_strings(items: list, name: str, unique: bool = True) -> None:
    """Refuse (ValueError naming `name` and the position) a non-string item, or with `unique` a repeated
    one or one of the reserved entries."""
    seen = {PAD, UNK} if unique else set()
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise ValueError(f"{name}: item {position} is {item!r} ({type(item).__name__}), not a string")
        if unique and item in seen:
            again = "is reserved" if item in (PAD, UNK) else "is listed twice"
            raise ValueError(f"{name}: item {position} ({item[:40]!r}) {again}")
        seen.add(item)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class TagVocab:
    """Tags have no padding or unknown entry of their own: 'O' is id 0."""

    def __init__(self, tags: Iterable[str], inherited: Iterable[str] = ()):
        self.items = ["O"] + sorted(set(tags) - {"O"})
        self.ids = {tag: i for i, tag in enumerate(self.items)}
        # Tags whose output and CRF rows were copied from a source model's tags (transfer).
        self.inherited = list(inherited)

    def __len__(self) -> int:
        return len(self.items)

    def entity_types(self) -> list[str]:
        return sorted({tag[2:] for tag in self.items if tag != "O"})


@lru_cache(maxsize=_CACHED_WORDS)
def normalize_word(word: str, lowercase: bool) -> str:
    """NFKC (full-width -> ASCII), optional lowercasing, every digit -> 0."""
    word = unicodedata.normalize("NFKC", word)
    if lowercase:
        word = word.lower()
    return re.sub(r"\d", "0", word)


@lru_cache(maxsize=_CACHED_WORDS)
def casing(word: str) -> int:
    """The word's casing class: its index in CASES."""
    if word.isdigit():
        return CASES.index("numeric")
    if not any(c.isalpha() and (c.isupper() or c.islower()) for c in word):
        return CASES.index("has_digit") if any(c.isdigit() for c in word) else CASES.index("other")
    if word.islower():
        return CASES.index("lower")
    if word.isupper():
        return CASES.index("all_upper")
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return CASES.index("upper_initial")
    return CASES.index("mixed")


def bigrams(form: str) -> list[str]:
    """Overlapping character pairs of a word with begin/end markers: 'EU' -> ['\\x02E', 'EU', 'U\\x03']."""
    marked = BEGIN + form + END
    return [marked[i : i + 2] for i in range(len(marked) - 1)]
