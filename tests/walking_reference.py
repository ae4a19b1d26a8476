"""The node-walking tokenizer that eiwa used before its bulk column path (eiwa 0.2): the reference that
tests/tokenize/test_bulk_parity.py compares `JapaneseTokenizer.tokenize` with. It reads MeCab's
nodes one by one through fugashi, recovering offsets with a cursor through the text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import fugashi

from eiwa.doc import Token
from eiwa.tokenize.japanese import MECAB_ARGS, _analysis, encodable

_NON_SPACE = re.compile(r"\S+")
_SPACE = re.compile(r"\s")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


class WalkingTokenizer:
    def __init__(self):
        self.tagger = fugashi.Tagger(MECAB_ARGS)

    def tokenize(self, text: str) -> list[Token]:
        safe = encodable(text)
        tokens = self._tokenize_uncached(safe)
        return [
            t if safe == text else Token(text[t.start : t.end], t.start, t.end, t.reading, t.pos, t.lemma)
            for t in tokens
        ]

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
