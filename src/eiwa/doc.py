"""The data model every reader, tokenizer, feature and scorer shares: tokens, entity spans,
sentences and corpora.

Gold entities are kept as character spans into a sentence's text, so that one scorer serves token
data (CoNLL) and raw-text data (Stockmark) alike; tags are derived only where the model needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from eiwa.tags import spans_from_tags


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


class TokenColumns(Sequence[Token]):
    """A sentence's tokens kept as columns, one list or array per attribute, as the tokenizer makes
    them: features read whole columns, and a `Token` is only made when a caller asks for one.

    texts, readings, lemmas   lists, as the `Token` fields
    starts, ends              int64 arrays
    pos                       each token's POS levels as one string, "pos1,pos2,pos3,pos4" (a
                              missing level empty or "*"), or None: strings, not tuples, since a
                              tuple per token is what costs (the garbage collector tracks them)
    """

    __slots__ = ("texts", "starts", "ends", "readings", "pos", "lemmas")

    def __init__(self, texts: list[str], starts: np.ndarray, ends: np.ndarray, readings: list, pos: list, lemmas: list):
        self.texts, self.starts, self.ends = texts, starts, ends
        self.readings, self.pos, self.lemmas = readings, pos, lemmas

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("token index out of range")
        start, end = int(self.starts[index]), int(self.ends[index])
        return Token(self.texts[index], start, end, self.readings[index], self.levels(index), self.lemmas[index])

    def levels(self, index: int) -> tuple[str, ...] | None:
        """Token `index`'s POS levels as `Token.pos` holds them ("*" for a missing level)."""
        pos = self.pos[index]
        return None if pos is None else tuple(level or "*" for level in pos.split(","))

    def __iter__(self) -> Iterator[Token]:
        return map(self.__getitem__, range(len(self)))

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"TokenColumns({list(self)!r})"


@dataclass(frozen=True)
class Span:
    """An entity as character offsets into its sentence's text (end exclusive)."""

    start: int
    end: int
    type: str
    # A predicted entity's probability under the model (Tagger.tag_sentences(confidence=True));
    # None for gold entities. Not part of equality: a span is its offsets and type.
    confidence: float | None = field(default=None, compare=False)

    def as_tuple(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.type)


@dataclass
class Sentence:
    """A sentence's text, its tokens (with offsets, readings and part of speech) and its gold entities."""

    text: str
    tokens: Sequence[Token]  # a list, or the tokenizer's TokenColumns
    entities: list[Span] = field(default_factory=list)
    # Where the sentence came from, for error messages ("file:line").
    origin: str | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def words(self) -> list[str]:
        return self.tokens.texts if isinstance(self.tokens, TokenColumns) else [t.text for t in self.tokens]

    @property
    def offsets(self) -> list[tuple[int, int]]:
        if isinstance(self.tokens, TokenColumns):
            return list(zip(self.tokens.starts.tolist(), self.tokens.ends.tolist()))
        return [(t.start, t.end) for t in self.tokens]

    @property
    def readings(self) -> list[str | None] | None:
        """Per-token readings, or None when no token has one (English)."""
        readings = self.token_readings
        return readings if any(r is not None for r in readings) else None

    @property
    def token_readings(self) -> list[str | None]:
        """Each token's reading (None where unknown)."""
        return self.tokens.readings if isinstance(self.tokens, TokenColumns) else [t.reading for t in self.tokens]

    @property
    def lemmas(self) -> list[str | None]:
        return self.tokens.lemmas if isinstance(self.tokens, TokenColumns) else [t.lemma for t in self.tokens]

    def token_spans(self) -> list[tuple[int, int, str]]:
        """Gold entities as token-index spans, for tagging.

        Entities not aligned to token boundaries are left out, and so are entities overlapping an
        earlier (or, at the same start, longer) one: flat tags cannot express nesting.
        """
        starts = {s: i for i, (s, _) in enumerate(self.offsets)}
        ends = {e: i + 1 for i, (_, e) in enumerate(self.offsets)}
        spans, covered_until = [], 0
        for e in sorted(self.entities, key=lambda e: (e.start, -e.end)):
            aligned = e.start in starts and e.end in ends and starts[e.start] < ends[e.end]
            if aligned and starts[e.start] >= covered_until:
                spans.append((starts[e.start], ends[e.end], e.type))
                covered_until = ends[e.end]
        return spans

    def overlapping_entities(self) -> int:
        covered_until, count = 0, 0
        for e in sorted(self.entities, key=lambda e: (e.start, -e.end)):
            if e.start < covered_until:
                count += 1
            else:
                covered_until = e.end
        return count

    def misaligned_entities(self) -> int:
        """How many gold entities have a boundary inside a token (the tagger cannot find those)."""
        starts = {s for s, _ in self.offsets}
        ends = {e for _, e in self.offsets}
        return sum(e.start not in starts or e.end not in ends for e in self.entities)


@dataclass
class Corpus:
    """The sentences a reader gives."""

    sentences: list[Sentence]
    # How many tokens were split so that no gold entity boundary falls inside a token.
    token_splits: int = 0

    def overlapping_entities(self) -> int:
        """Gold entities that overlap an earlier one: flat tags cannot hold both, the later is left out."""
        return sum(s.overlapping_entities() for s in self.sentences)

    def misaligned_entities(self) -> int:
        return sum(s.misaligned_entities() for s in self.sentences)

    def misaligned_note(self) -> str | None:
        """A line for the user when some gold entities cannot be found at all (a boundary inside a token)."""
        total, lost = sum(len(s.entities) for s in self.sentences), self.misaligned_entities()
        if not total or not lost:
            return None
        return (
            f"{lost} of {total} gold entities ({lost / total:.2%}) have a boundary inside a token and cannot be found"
        )

    def entity_types(self) -> list[str]:
        return entity_types(self.sentences)


def entity_types(sentences: Sequence[Sentence]) -> list[str]:
    """The gold entity types that occur in these sentences, sorted."""
    return sorted({e.type for s in sentences for e in s.entities})


def join_tokens(tokens: Sequence[str], separator: str) -> tuple[str, list[tuple[int, int]]]:
    """The text of a pre-tokenized sentence and each token's offsets in it."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + len(separator)
    return separator.join(tokens), offsets


def token_separator(lang: str) -> str:
    # Japanese is written without spaces, so a CoNLL sentence's text is its tokens run together.
    return "" if lang == "ja" else " "


def sentence_from_tags(
    tokens: list[str],
    tags: list[str],
    lang: str,
    readings: list[str | None] | None = None,
    origin: str | None = None,
    corpus_pos: list[tuple[str, ...]] | None = None,
) -> Sentence:
    """A pre-tokenized sentence. Japanese tokens also get eiwa's own tokenizer's part of speech and
    lemma, by analysing the sentence and aligning (`JapaneseTokenizer.analyse`), so that features
    read from a corpus are those that raw text would get."""
    from eiwa.tokenize import tokenizer_for  # the tokenizers build on this module

    text, offsets = join_tokens(tokens, token_separator(lang))
    readings = readings or [None] * len(tokens)
    corpus_pos = corpus_pos or [None] * len(tokens)
    made = [Token(t, s, e, r, corpus_pos=p) for t, (s, e), r, p in zip(tokens, offsets, readings, corpus_pos)]
    if lang == "ja":
        made = tokenizer_for("ja").tokenizer.analyse(text, made)
    entities = [Span(offsets[start][0], offsets[end - 1][1], kind) for start, end, kind in spans_from_tags(tags)]
    return Sentence(text, made, entities, origin)


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
