"""The dictionary bridge for words: a transferred `word` module gives Japanese words rows in the
English source's word space.

An English source's word rows never match a Japanese word, so without a bridge every Japanese
word starts as a fresh (random) row and the transferred classifier reads vectors it has never
seen. JMdict (EDRDG, CC BY-SA 4.0, in the `jamdict-data` package: 191,541 entries) glosses
Japanese headwords in English: 会社 -> company, corporation. Two variants (`word_bridge`):

* `jmdict`: each target word the source does not know, looked up by its form and then its
  dictionary form (UniDic orthBase), starts from the mean of the source rows of its glosses'
  words (the single-word glosses of its first senses when any is in the source vocabulary, else
  the words of its multi-word glosses);
* `jmdict+map`: as `jmdict`, and a linear map from the Japanese pretrained vectors (chiVe) to the
  source's word space, fitted by ridge least squares on the words bridged by the dictionary, gives
  every other target word that has a vector a row (its image under the map).

The target's word vocabulary is its training words plus JMdict's common headwords
(`common_headwords`: JMdict's "(P)" spellings) whose glosses the source knows, so that words first
seen at prediction (and every word, zero-shot) still have a row in the source's space; other
words first seen at prediction read the unknown row. The dictionary is read from jamdict-data
once per process (about 5 s); nothing of it is stored in the model beyond the rows it set.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from eiwa.errors import EiwaError
from eiwa.resources.jmdict import connect_read_only, installed_database, plain_gloss

VARIANTS = ("none", "jmdict", "jmdict+map")
LICENCE = "JMdict (EDRDG, CC BY-SA 4.0), via the jamdict-data package"
SENSES = 2  # a headword's first senses carry its common meanings; later ones are rare or figurative
GLOSSES_PER_SENSE = 3
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "by",
        "with",
        "one's",
        "oneself",
        "someone",
        "something",
        "etc",
    ]
)


@dataclass
class BridgeReport:
    variant: str
    new_words: int  # target words (training words and added headwords) the source does not know
    by_dictionary: int  # of them, rows set from dictionary glosses
    by_map: int  # rows set from the vector map
    new_tokens: int  # target training tokens of such words
    bridged_tokens: int  # of them, tokens whose word got a bridged row
    tokens: int  # all target training tokens
    known_tokens: int  # tokens whose word the source knows (its row was copied)
    map_fit_pairs: int = 0
    added_headwords: int = 0  # common JMdict headwords added to the vocabulary (not training words)

    def lines(self) -> list[str]:
        covered = (self.known_tokens + self.bridged_tokens) / self.tokens if self.tokens else 0.0
        line = (
            f"  word bridge ({self.variant}): {self.by_dictionary:,} of the {self.new_words:,} words the source "
            f"lacks (training words and {self.added_headwords:,} common JMdict headwords added for words first "
            "seen later) start from the source's rows of their English glosses"
        )
        if self.variant == "jmdict+map":
            line += f", {self.by_map:,} from the vector map (fitted on {self.map_fit_pairs:,} pairs)"
        return [
            line,
            f"  so {covered:.1%} of the {self.tokens:,} training tokens read a word row the source understands "
            f"({self.known_tokens:,} spelled as source words, {self.bridged_tokens:,} bridged); the rest start as "
            "new rows",
        ]

    def to_dict(self) -> dict:
        # the model's vocabulary now holds JMdict headwords: their licence travels with it (meta.json)
        return {**self.__dict__, "licence": LICENCE}


def gloss_words(gloss: str) -> list[str]:
    """The words of an English gloss worth looking up: 'to go (somewhere)' -> ['go']."""
    words = re.findall(r"[A-Za-z][A-Za-z'\-]*", plain_gloss(gloss))
    return [w for w in words if w.lower() not in _STOPWORDS]


@functools.lru_cache(maxsize=2)
def load_glosses(database: str | None = None) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Headword (NFKC; kanji and kana spellings) -> its glosses as word tuples, first senses first."""
    path = _database(database)
    try:
        connection = connect_read_only(path)
        try:
            glosses_of_sense: dict[int, list[str]] = {}
            for sense, language, text in connection.execute("SELECT sid, lang, text FROM SenseGloss"):
                if language in (None, "", "eng"):
                    glosses_of_sense.setdefault(sense, []).append(text)
            senses_of_entry: dict[int, list[int]] = {}
            for sense, entry in connection.execute("SELECT ID, idseq FROM Sense ORDER BY ID"):
                senses_of_entry.setdefault(entry, []).append(sense)
            spellings = connection.execute(
                "SELECT idseq, text FROM Kanji UNION ALL SELECT idseq, text FROM Kana"
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise EiwaError(f"word_bridge: cannot read JMdict from {path}: {error}") from None
    glosses: dict[str, list[tuple[str, ...]]] = {}
    for entry, text in spellings:
        head = unicodedata.normalize("NFKC", text or "")
        found = glosses.setdefault(head, [])
        for sense in senses_of_entry.get(entry, [])[:SENSES]:
            for gloss in glosses_of_sense.get(sense, [])[:GLOSSES_PER_SENSE]:
                words = tuple(gloss_words(gloss))
                if words and words not in found:
                    found.append(words)
    return {head: tuple(found) for head, found in glosses.items() if found}


@functools.lru_cache(maxsize=2)
def common_headwords(database: str | None = None) -> tuple[str, ...]:
    """Spellings JMdict marks as common (its "(P)" words: priority news1, ichi1, spec1, spec2 or
    gai1), NFKC, in dictionary order: the words a bridged vocabulary adds beyond the training data."""
    path = _database(database)
    common = "('news1', 'ichi1', 'spec1', 'spec2', 'gai1')"
    query = (
        f"SELECT DISTINCT k.text FROM Kanji k JOIN KJP p ON p.kid = k.ID WHERE p.text IN {common} UNION ALL "
        f"SELECT DISTINCT k.text FROM Kana k JOIN KNP p ON p.kid = k.ID WHERE p.text IN {common}"
    )
    try:
        connection = connect_read_only(path)
        try:
            rows = connection.execute(query).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise EiwaError(f"word_bridge: cannot read JMdict from {path}: {error}") from None
    # sorted: the vocabulary's order must not depend on how SQLite happens to return DISTINCT rows
    return tuple(sorted({unicodedata.normalize("NFKC", text) for (text,) in rows if text}))


def _database(database: str | None) -> str:
    if database is not None:
        return database
    return str(installed_database("word_bridge: JMdict")[0])


def dictionary_rows(glosses: Sequence[tuple[str, ...]], source_row: Callable[[str], int | None]) -> list[int]:
    """Source rows for one headword's glosses: its single-word glosses if any is known, else the
    known words of its multi-word glosses."""
    single = [source_row(g[0]) for g in glosses if len(g) == 1]
    single = [row for row in single if row is not None]
    if single:
        return single
    rows = [source_row(w) for g in glosses if len(g) > 1 for w in g]
    return [row for row in rows if row is not None]


def headwords_to_add(
    known: set[str],
    source_row: Callable[[str], int | None],
    normalise: Callable[[str], str],
    database: str | None = None,
) -> list[str]:
    """Common headwords, normalised as the target's words, that are not in `known` and whose
    glosses reach the source's vocabulary."""
    glosses = load_glosses(database)
    added = []
    for head in common_headwords(database):
        word = normalise(head)
        if word not in known and head in glosses and dictionary_rows(glosses[head], source_row):
            known.add(word)
            added.append(word)
    return added


def bridge_word_rows(
    variant: str,
    embedding: torch.Tensor,
    target_words: Sequence[str],
    first_new: int,
    source_row: Callable[[str], int | None],
    lemma_of: dict[str, str | None],
    token_counts: Sequence[int],
    known_tokens: int,
    vectors: Callable[[Sequence[str], Sequence[str | None]], np.ndarray] | None = None,
    database: str | None = None,
) -> BridgeReport:
    """Set the rows of target words `first_new`.. of `embedding` (in place) from the source's rows
    0..first_new-1, by dictionary and, with `jmdict+map`, by the vector map (`vectors`: words and
    lemmas -> [n, dim] array, NaN rows where a word has none)."""
    if variant not in VARIANTS:
        raise EiwaError(f"word_bridge: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    glosses = load_glosses(database)
    source = embedding[:first_new].detach().clone()
    new = list(range(first_new, len(target_words)))
    by_dictionary: dict[int, torch.Tensor] = {}
    for index in new:
        word = target_words[index]
        found = glosses.get(word) or glosses.get(lemma_of.get(word) or "")
        if found:
            rows = dictionary_rows(found, source_row)
            if rows:
                by_dictionary[index] = source[rows].mean(0)
    by_map: dict[int, torch.Tensor] = {}
    pairs = 0
    if variant == "jmdict+map":
        if vectors is None:
            raise EiwaError("word_bridge = jmdict+map needs the Japanese vectors table (the vectors extra)")
        words = [target_words[i] for i in new]
        table = vectors(words, [lemma_of.get(w) for w in words])
        has_vector = ~np.isnan(table).any(axis=1)
        fit = [k for k, i in enumerate(new) if i in by_dictionary and has_vector[k]]
        pairs = len(fit)
        if pairs >= 50:  # fewer pairs than that give a map that is mostly noise
            x = torch.from_numpy(table[fit]).double()
            y = torch.stack([by_dictionary[new[k]] for k in fit]).double()
            x1 = torch.cat([x, torch.ones(len(fit), 1, dtype=x.dtype)], 1)
            ridge = 1.0 * torch.eye(x1.shape[1], dtype=x.dtype)
            weights = torch.linalg.solve(x1.T @ x1 + ridge, x1.T @ y)
            rest = [k for k, i in enumerate(new) if i not in by_dictionary and has_vector[k]]
            if rest:
                mapped = (
                    torch.cat([torch.from_numpy(table[rest]).double(), torch.ones(len(rest), 1, dtype=x.dtype)], 1)
                    @ weights
                )
                by_map = {new[k]: row.to(embedding.dtype) for k, row in zip(rest, mapped)}
    with torch.no_grad():
        for index, row in {**by_dictionary, **by_map}.items():
            embedding[index] = row
    bridged = set(by_dictionary) | set(by_map)
    return BridgeReport(
        variant=variant,
        new_words=len(new),
        by_dictionary=len(by_dictionary),
        by_map=len(by_map),
        new_tokens=int(sum(token_counts[i] for i in new)),
        bridged_tokens=int(sum(token_counts[i] for i in bridged)),
        tokens=int(sum(token_counts)),
        known_tokens=known_tokens,
        map_fit_pairs=pairs,
    )
