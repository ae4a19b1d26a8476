"""Tag schemes for token-level entity annotation: IOB1, IOB2 and BIOES.

Entities are represented as token spans ``(start, end, type)`` with ``end``
exclusive.  :func:`spans_from_tags` reads any mix of IOB1, IOB2 and BIOES tags
(and BILOU's ``L``/``U`` as ``E``/``S``), repairing invalid sequences exactly
as conlleval and seqeval's default mode do, so that scores computed from our
spans agree with theirs.  :func:`tags_from_spans` writes spans back in one
scheme, and :func:`convert` goes from tags to tags through spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

SCHEMES = ("iob1", "iob2", "bioes")

Span = tuple[int, int, str]

# BILOU's Last and Unit mean the same as BIOES's End and Single.
_PREFIXES = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S"}


# Cached because a corpus has only a handful of distinct tags but millions of tokens.
@lru_cache(maxsize=1024)
def parse_tag(tag: str) -> tuple[str, str | None]:
    """Split a tag into its prefix and entity type.

    ``'B-PER'`` gives ``('B', 'PER')`` and ``'O'`` gives ``('O', None)``.  The
    prefix is one of B, I, E, S (L and U are read as E and S), followed by
    ``-`` and a non-empty type; the type may itself contain ``-``.

    Raises:
        ValueError: for anything else, such as ``'B_PER'``, ``'X-PER'``,
            ``'B-'``, ``''`` or ``'PER'``.
    """
    if tag == "O":
        return "O", None
    prefix, separator, type_ = tag.partition("-")
    if prefix not in _PREFIXES or not separator or not type_:
        raise ValueError(f"invalid tag {tag!r}: expected 'O' or a prefix B, I, E, S, L or U, '-' and a type")
    return _PREFIXES[prefix], type_


@lru_cache(maxsize=1024)
def type_problem(type_: str) -> str | None:
    """Why an entity type read from data cannot be used, or None: a type holding whitespace
    (`PERSON NAME`) would make tags (`B-PERSON NAME`) that no CoNLL column can hold, so every
    reader refuses it, rather than train a model whose output CoNLL tools cannot read back."""
    if any(character.isspace() for character in type_):
        renamed = "_".join(type_.split())
        return f"entity type {type_!r} holds whitespace, which no CoNLL tag column can: rename it (e.g. {renamed})"
    return None


def spans_from_tags(tags: Sequence[str]) -> list[Span]:
    """Extract entity spans from tags in any mix of IOB1, IOB2 and BIOES.

    The result is sorted by start and matches seqeval's default-mode
    ``get_entities`` (with exclusive ends), including on invalid sequences.

    Raises:
        ValueError: if a tag is malformed (see :func:`parse_tag`).
    """
    # The conlleval rules: every non-O token belongs to exactly one entity.
    # A token continues the entity of the previous token only when
    #   - it is I- or E-,
    #   - the previous token is B- or I- (E- and S- close an entity), and
    #   - both have the same type.
    # Any other non-O token starts a new entity, closing the open one.  So
    # I- or E- after O starts an entity, as does I- or E- after E- or S-,
    # and a change of type inside an entity splits it in two.  O closes the
    # open entity.
    spans: list[Span] = []
    start: int | None = None  # start of the open entity, None outside one
    open_type: str | None = None
    can_continue = False  # whether the previous token leaves its entity open
    for index, tag in enumerate(tags):
        prefix, type_ = parse_tag(tag)
        if not (prefix in ("I", "E") and can_continue and type_ == open_type):
            if start is not None:
                spans.append((start, index, open_type))
            start = None if prefix == "O" else index
            open_type = type_
        can_continue = prefix in ("B", "I")
    if start is not None:
        spans.append((start, len(tags), open_type))
    return spans


def tags_from_spans(spans: Iterable[Span], length: int, scheme: str = "bioes") -> list[str]:
    """Write non-overlapping spans as ``length`` tags in ``scheme``.

    ``iob2`` begins every entity with B-; ``bioes`` also marks the last token
    with E- and one-token entities with S-; ``iob1`` uses I- throughout and B-
    only where an entity directly follows one of the same type, the one place
    IOB1 needs it to keep the two apart.

    Raises:
        ValueError: for an unknown scheme, an empty type, or spans that are
            empty, fall outside ``0..length`` or overlap.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    tags = ["O"] * length
    previous_end = 0
    previous_type = None
    for start, end, type_ in sorted(spans):
        if not 0 <= start < end <= length:
            raise ValueError(f"span {(start, end, type_)!r} is empty or outside a sentence of {length} tokens")
        if start < previous_end:
            raise ValueError(f"span {(start, end, type_)!r} overlaps the span before it")
        if not type_:
            raise ValueError(f"span {(start, end, type_)!r} has an empty type")
        tags[start:end] = [f"I-{type_}"] * (end - start)
        if scheme == "iob2" or (scheme == "iob1" and start == previous_end and type_ == previous_type):
            tags[start] = f"B-{type_}"
        elif scheme == "bioes":
            if end - start == 1:
                tags[start] = f"S-{type_}"
            else:
                tags[start] = f"B-{type_}"
                tags[end - 1] = f"E-{type_}"
        previous_end, previous_type = end, type_
    return tags


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """Rewrite tags in ``scheme``, repairing invalid sequences as :func:`spans_from_tags` does."""
    return tags_from_spans(spans_from_tags(tags), len(tags), scheme)


def spans_from_tag_ids(tag_ids: np.ndarray, lengths: np.ndarray, tag_names: Sequence[str]) -> list[list[Span]]:
    """`spans_from_tags` for a whole batch of decoded tag ids at once, without a loop over tokens.

    tag_ids is [sentences, time] (padding ignored past each length). The conlleval rules above
    depend only on each token and its predecessor, so they vectorise: a token continues an
    entity when it is I-/E-, its predecessor is B-/I- of the same type; an entity starts at every
    other non-O token and ends where the next token does not continue it.
    """
    parsed = [parse_tag(tag) for tag in tag_names]
    prefix_codes = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4}
    prefix_of = np.array([prefix_codes[p] for p, _ in parsed])
    types = sorted({t for _, t in parsed if t is not None})
    type_of = np.array([types.index(t) if t is not None else -1 for _, t in parsed])

    rows, steps = tag_ids.shape
    valid = np.arange(steps)[None, :] < np.asarray(lengths)[:, None]
    prefix = np.where(valid, prefix_of[tag_ids], 0)
    kind = np.where(valid, type_of[tag_ids], -1)
    previous_prefix = np.pad(prefix, ((0, 0), (1, 0)))[:, :-1]
    previous_kind = np.pad(kind, ((0, 0), (1, 0)), constant_values=-1)[:, :-1]
    continues = np.isin(prefix, (2, 3)) & np.isin(previous_prefix, (1, 2)) & (kind == previous_kind)
    inside = prefix != 0
    starts = inside & ~continues
    next_continues = np.pad(continues, ((0, 0), (0, 1)))[:, 1:]
    ends = inside & ~next_continues
    # Starts and ends alternate in row-major order, so the k-th start pairs with the k-th end.
    start_rows, start_cols = np.nonzero(starts)
    _, end_cols = np.nonzero(ends)
    spans: list[list[Span]] = [[] for _ in range(rows)]
    for row, start, end in zip(start_rows.tolist(), start_cols.tolist(), end_cols.tolist()):
        spans[row].append((start, end + 1, types[kind[row, start]]))
    return spans
