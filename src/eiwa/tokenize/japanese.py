"""Japanese tokenization with exact character offsets and kana readings.

Built on fugashi (a C wrapper around MeCab) with the unidic-lite dictionary, which also gives
each token its part of speech (UniDic pos1-pos4) and dictionary form (orthBase).
MeCab is fast enough for bulk tagging and unidic-lite is a small wheel, which
is why we use it rather than Sudachi.

MeCab reports surfaces but not offsets, and it skips some whitespace silently
(``word.white_space``) while returning other whitespace (``\\r``, U+3000,
U+00A0...) as tokens of its own. Offsets are therefore recovered by walking a
cursor through the original text, and whitespace is removed from the result,
so that for every token ``text[token.start:token.end] == token.text`` and no
token contains whitespace.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace

import fugashi
import numpy as np
import unidic_lite

from eiwa.doc import Token

_CACHE_SIZE = 100_000
_NON_SPACE = re.compile(r"\S+")
_SPACE = re.compile(r"\s")
# MeCab reads UTF-8, which cannot hold a lone surrogate: it is analysed as U+FFFD, one character
# for one, so that offsets stay those of the caller's text.
_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


# unidic-lite's feature columns: pos1-pos4 are the first four, orthBase the 11th, the kana reading the 18th.
_POS_FIELDS = 4
_BASE_FIELD = 10
_KANA_FIELD = 17


# fugashi on its own prefers the full ``unidic`` package when that is installed;
# pinning unidic-lite keeps tokenization identical to what the models were trained on.
MECAB_ARGS = f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"'


def new_tagger() -> fugashi.Tagger:
    """A fugashi Tagger using unidic-lite (see ``MECAB_ARGS``)."""
    return fugashi.Tagger(MECAB_ARGS)


def thread_tagger(local: threading.local) -> fugashi.Tagger:
    """The calling thread's tagger kept in `local`, made on first need: MeCab's lattice and the
    nodes it returns belong to one tagger, so two threads must not parse with the same one."""
    tagger = getattr(local, "tagger", None)
    if tagger is None:
        tagger = local.tagger = new_tagger()
    return tagger


def _analysis(word) -> tuple[str | None, tuple[str, ...], str | None]:
    """A MeCab node's kana reading, POS levels and dictionary form; unidic gives None, "" or "*"
    for a missing value, and unknown words have fewer fields."""
    # Splitting the raw feature string is 3x cheaper than fugashi's named tuple; a quoted field
    # (a comma inside a value) needs the real CSV parse.
    raw = word.feature_raw
    fields = list(word.feature) if '"' in raw else raw.split(",")
    pos = tuple(fields[:_POS_FIELDS]) + ("*",) * max(0, _POS_FIELDS - len(fields))
    kana = fields[_KANA_FIELD] if len(fields) > _KANA_FIELD else None
    base = fields[_BASE_FIELD] if len(fields) > _BASE_FIELD else None
    return (None if not kana or kana == "*" else kana), pos, (None if not base or base == "*" else base)


def _kana_of(word) -> str | None:
    return _analysis(word)[0]


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


class JapaneseTokenizer:
    """Tokenizes Japanese text into :class:`Token` objects with readings.

    The underlying Tagger is public as ``tagger`` so that other components
    (for example :class:`eiwa.tokenize.romaji.Romanizer`) can share it.
    """

    def __init__(self):
        self._local = threading.local()
        # Per-instance caches: an lru_cache on the methods themselves would be
        # shared by all instances and keep them alive.
        self._tokenize_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._tokenize_uncached)
        self._reading_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._reading_uncached)

    @property
    def tagger(self) -> fugashi.Tagger:
        """This thread's MeCab tagger (unidic-lite)."""
        return thread_tagger(self._local)

    def tokenize(self, text: str) -> list[Token]:
        """Tokens of ``text`` in order; whitespace never becomes a token."""
        safe = encodable(text)
        tokens = self._tokenize_cached(safe)
        if safe == text:
            return list(tokens)
        return [replace(t, text=text[t.start : t.end]) for t in tokens]

    def reading(self, surface: str) -> str | None:
        """Katakana reading of an arbitrary string: the morpheme readings concatenated.

        A morpheme without a reading contributes its surface when that is ASCII
        (letters, digits); otherwise the whole reading is None.
        """
        return self._reading_cached(surface)

    def piece(self, text: str, start: int, end: int) -> Token:
        """A piece of a token split at an entity boundary, analysed on its own: its reading, and
        the part of speech of its first morpheme."""
        first = next((w for w in self.tagger(encodable(text)) if not w.surface.isspace()), None)
        _, pos, lemma = _analysis(first) if first is not None else (None, None, None)
        lemma = lemma if first is not None and first.surface == text else None
        return Token(text, start, end, self.reading(text), pos, lemma)

    def analyse(self, text: str, tokens: Sequence[Token]) -> list[Token]:
        """Given tokens of `text` (a pre-tokenized corpus), with part of speech and lemma from this
        tokenizer: each token takes the POS of the MeCab token covering its first character, and its
        lemma only when MeCab has exactly the same token. Readings and corpus POS stay as given."""
        analysed = self.tokenize(text)
        starts = np.fromiter((t.start for t in analysed), np.int64, len(analysed))
        exact = {(t.start, t.end): t for t in analysed}
        result = []
        for token in tokens:
            cover = analysed[max(0, int(np.searchsorted(starts, token.start, side="right")) - 1)] if analysed else None
            same = exact.get((token.start, token.end))
            result.append(replace(token, pos=cover.pos if cover else None, lemma=same.lemma if same else None))
        return result

    def _reading_uncached(self, surface: str) -> str | None:
        parts = []
        for word in self.tagger(encodable(surface)):
            if word.surface.isspace():
                continue
            kana = _kana_of(word)
            if kana is None:
                if not word.surface.isascii():
                    return None
                kana = word.surface
            parts.append(kana)
        return "".join(parts) or None

    def _tokenize_uncached(self, text: str) -> tuple[Token, ...]:
        tokens: list[Token] = []
        cursor = _skip_space(text, 0)
        while cursor < len(text):
            # MeCab stops at a NUL character, so one pass may leave text behind:
            # tag the rest again, and step over a character it cannot take.
            before = len(tokens)
            cursor = self._walk(text, cursor, tokens)
            cursor = _skip_space(text, cursor)
            if len(tokens) == before and cursor < len(text):
                tokens.append(Token(text[cursor], cursor, cursor + 1, None))
                cursor = _skip_space(text, cursor + 1)
        return tuple(tokens)

    def _walk(self, text: str, cursor: int, tokens: list[Token]) -> int:
        """Tag ``text[cursor:]``, append its tokens and return the offset after the last."""
        for word in self.tagger(text[cursor:]):
            surface = word.surface.strip()
            if not surface:
                continue
            start = _skip_space(text, cursor)
            if start >= len(text):
                break
            reading, pos, lemma = _analysis(word)
            if text.startswith(surface, start):
                end = start + len(surface)
            else:
                # MeCab changed the surface: take as many characters as it reported
                # so that later tokens stay aligned; the reading may not fit them.
                end = min(len(text), start + len(surface))
                reading = None
            tokens.extend(_without_space(text, start, end, reading, pos, lemma))
            cursor = end
        return cursor


def _without_space(text: str, start: int, end: int, reading: str | None, pos, lemma) -> Iterator[Token]:
    """The span as one token, or as several when it contains whitespace (pieces get no reading or lemma)."""
    if not _SPACE.search(text, start, end):
        yield Token(text[start:end], start, end, reading, pos, lemma)
        return
    pieces = list(_NON_SPACE.finditer(text, start, end))
    if len(pieces) == 1 and pieces[0].span() == (start, end):
        yield Token(text[start:end], start, end, reading, pos, lemma)
        return
    for piece in pieces:
        yield Token(piece.group(), piece.start(), piece.end(), None, pos, None)
