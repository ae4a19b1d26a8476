"""Japanese tokenization with exact character offsets and kana readings.

Built on fugashi (a C wrapper around MeCab) with the unidic-lite dictionary:
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
from collections.abc import Iterator

import fugashi
import unidic_lite

from .data import Token, split_at_boundaries  # noqa: F401  (Token is this module's output; both re-exported)

_CACHE_SIZE = 100_000
_NON_SPACE = re.compile(r"\S+")
_SPACE = re.compile(r"\s")
_KANA_FIELD = 17  # unidic-lite's feature columns: the kana reading is the 18th


# fugashi on its own prefers the full ``unidic`` package when that is installed;
# pinning unidic-lite keeps tokenization identical to what the models were trained on.
MECAB_ARGS = f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"'


def new_tagger() -> fugashi.Tagger:
    """A fugashi Tagger using unidic-lite (see ``MECAB_ARGS``)."""
    return fugashi.Tagger(MECAB_ARGS)


def _kana_of(word) -> str | None:
    """The kana reading of a MeCab node; unidic gives None, "" or "*" when it has none."""
    # Splitting the raw feature string is 3x cheaper than fugashi's named tuple; a quoted field
    # (a comma inside a value) needs the real CSV parse.
    raw = word.feature_raw
    if '"' in raw:
        kana = word.feature.kana
    else:
        fields = raw.split(",")
        kana = fields[_KANA_FIELD] if len(fields) > _KANA_FIELD else None
    if not kana or kana == "*":
        return None
    return kana


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


class JapaneseTokenizer:
    """Tokenizes Japanese text into :class:`Token` objects with readings.

    The underlying Tagger is public as ``tagger`` so that other components
    (for example :class:`eiwa.romaji.Romanizer`) can share it.
    """

    def __init__(self):
        self.tagger = new_tagger()
        # Per-instance caches: an lru_cache on the methods themselves would be
        # shared by all instances and keep them alive.
        self._tokenize_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._tokenize_uncached)
        self._reading_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._reading_uncached)

    def tokenize(self, text: str) -> list[Token]:
        """Tokens of ``text`` in order; whitespace never becomes a token."""
        return list(self._tokenize_cached(text))

    def reading(self, surface: str) -> str | None:
        """Katakana reading of an arbitrary string: the morpheme readings concatenated.

        A morpheme without a reading contributes its surface when that is ASCII
        (letters, digits); otherwise the whole reading is None.
        """
        return self._reading_cached(surface)

    def _reading_uncached(self, surface: str) -> str | None:
        parts = []
        for word in self.tagger(surface):
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
            reading = _kana_of(word)
            if text.startswith(surface, start):
                end = start + len(surface)
            else:
                # MeCab changed the surface: take as many characters as it reported
                # so that later tokens stay aligned; the reading may not fit them.
                end = min(len(text), start + len(surface))
                reading = None
            tokens.extend(_without_space(text, start, end, reading))
            cursor = end
        return cursor


def _without_space(text: str, start: int, end: int, reading: str | None) -> Iterator[Token]:
    """The span as one token, or as several when it contains whitespace (pieces get no reading)."""
    if not _SPACE.search(text, start, end):
        yield Token(text[start:end], start, end, reading)
        return
    pieces = list(_NON_SPACE.finditer(text, start, end))
    if len(pieces) == 1 and pieces[0].span() == (start, end):
        yield Token(text[start:end], start, end, reading)
        return
    for piece in pieces:
        yield Token(piece.group(), piece.start(), piece.end(), None)
