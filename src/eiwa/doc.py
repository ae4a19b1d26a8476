"""Tokens: what every reader and tokenizer produces, and what every feature reads.

This module imports nothing else from eiwa, so that the readers (data.py) and the Japanese
tokenizer (japanese.py) can both build on it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence


@dataclass(frozen=True)
class Token:
    """A token: its characters and offsets into its sentence's text (end exclusive), and what the
    tokenizer or the data file says about it.

    reading     katakana reading (Japanese), for romanization; None when unknown
    pos         part of speech from eiwa's own tokenizer: UniDic levels pos1-pos4 (Japanese only)
    lemma       dictionary form from eiwa's tokenizer (UniDic orthBase: 勤め -> 勤める)
    corpus_pos  part of speech given by the data file itself (a CoNLL POS column, Hironsan's
                MeCab columns), used only when a model asks for it (pos_source = "corpus")
    """

    text: str
    start: int
    end: int
    reading: str | None = None
    pos: tuple[str, ...] | None = None
    lemma: str | None = None
    corpus_pos: tuple[str, ...] | None = None


def split_at_boundaries(
    tokens: Sequence[Token],
    boundaries: set[int],
    piece_of: Callable[[str, int, int], Token],
) -> tuple[list[Token], int]:
    """Split every token that has a boundary strictly inside it; returns (new_tokens, number_of_splits).

    A boundary ``b`` is inside token ``t`` when ``t.start < b < t.end``; the token is cut at every
    such boundary, each cut counting as one split. ``piece_of(text, start, end)`` makes each piece
    (the tokenizer analyses it on its own, for its reading and part of speech). Tokens without an
    inner boundary are returned unchanged.
    """
    result: list[Token] = []
    splits = 0
    for token in tokens:
        cuts = [b for b in range(token.start + 1, token.end) if b in boundaries]
        if not cuts:
            result.append(token)
            continue
        splits += len(cuts)
        edges = [token.start, *cuts, token.end]
        for piece_start, piece_end in zip(edges, edges[1:]):
            piece = token.text[piece_start - token.start : piece_end - token.start]
            result.append(replace(piece_of(piece, piece_start, piece_end), corpus_pos=token.corpus_pos))
    return result, splits
