"""Tests for eiwa.tags: tag parsing, conlleval-style span extraction and scheme conversion."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from eiwa.tags import SCHEMES, convert, parse_tag, spans_from_tags, tags_from_spans

TYPES = ("PER", "LOC", "ORG")
TAGS = ["O"] + [f"{prefix}-{type_}" for prefix in "BIES" for type_ in TYPES]

# database=None keeps hypothesis from writing a .hypothesis/ folder into the repository.
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, database=None)

tag_sequences = st.lists(st.sampled_from(TAGS), max_size=20)


@st.composite
def span_layouts(draw):
    """Non-overlapping spans, some adjacent with the same type, and a sentence length that holds them."""
    spans = []
    position = 0
    for gap, width, type_ in draw(
        st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4), st.sampled_from(TYPES)), max_size=6)
    ):
        start = position + gap
        position = start + width
        spans.append((start, position, type_))
    return spans, position + draw(st.integers(0, 3))


def seqeval_spans(tags):
    """seqeval's entities as our sorted (start, end, type) spans with exclusive ends."""
    return sorted((start, end + 1, type_) for type_, start, end in get_entities(list(tags)))


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("O", ("O", None)),
        ("B-PER", ("B", "PER")),
        ("I-LOC", ("I", "LOC")),
        ("E-ORG", ("E", "ORG")),
        ("S-MISC", ("S", "MISC")),
        ("L-PER", ("E", "PER")),
        ("U-PER", ("S", "PER")),
        ("B-PER-NAME", ("B", "PER-NAME")),
    ],
)
def test_parse_tag_accepts(tag, expected):
    assert parse_tag(tag) == expected


@pytest.mark.parametrize("tag", ["B_PER", "X-PER", "B-", "", "PER", "O-PER", "b-PER", "-PER", "B"])
def test_parse_tag_rejects(tag):
    with pytest.raises(ValueError, match="invalid tag"):
        parse_tag(tag)


HAND_CASES = [
    ([], []),
    (["O", "O"], []),
    (["B-PER", "I-PER", "O", "B-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
    # IOB1: I- opens an entity, B- only separates two adjacent ones of the same type.
    (["I-PER", "I-PER", "B-PER", "I-LOC"], [(0, 2, "PER"), (2, 3, "PER"), (3, 4, "LOC")]),
    # Invalid in IOB2, repaired: I- after O starts an entity.
    (["O", "I-PER", "I-PER"], [(1, 3, "PER")]),
    # A type change inside a chunk starts a new one.
    (["B-PER", "I-LOC", "I-LOC"], [(0, 1, "PER"), (1, 3, "LOC")]),
    (["B-PER", "E-LOC"], [(0, 1, "PER"), (1, 2, "LOC")]),
    # BIOES.
    (["B-PER", "E-PER", "S-LOC", "B-ORG", "I-ORG", "E-ORG"], [(0, 2, "PER"), (2, 3, "LOC"), (3, 6, "ORG")]),
    # E- and S- close their entity, so an I- or E- after them starts another.
    (["B-PER", "E-PER", "E-PER"], [(0, 2, "PER"), (2, 3, "PER")]),
    (["S-PER", "I-PER", "E-PER"], [(0, 1, "PER"), (1, 3, "PER")]),
    (["B-PER", "I-PER", "E-PER", "I-PER"], [(0, 3, "PER"), (3, 4, "PER")]),
    (["O", "E-PER"], [(1, 2, "PER")]),
    # B- and S- always start an entity.
    (["B-PER", "B-PER", "S-PER", "B-PER", "I-PER"], [(0, 1, "PER"), (1, 2, "PER"), (2, 3, "PER"), (3, 5, "PER")]),
    # An entity running to the end of the sentence.
    (["O", "B-ORG", "I-ORG"], [(1, 3, "ORG")]),
    (["B-PER-NAME", "I-PER-NAME"], [(0, 2, "PER-NAME")]),
]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("tags, expected", HAND_CASES)
def test_spans_from_tags_hand_cases(tags, expected):
    assert spans_from_tags(tags) == expected
    assert seqeval_spans(tags) == expected


def test_spans_from_tags_reads_bilou():
    assert spans_from_tags(["U-PER", "B-LOC", "I-LOC", "L-LOC", "O"]) == [(0, 1, "PER"), (1, 4, "LOC")]


def test_spans_from_tags_rejects_malformed_tag():
    with pytest.raises(ValueError, match="B_PER"):
        spans_from_tags(["O", "B_PER"])


@pytest.mark.filterwarnings("ignore")
@PROPERTY_SETTINGS
@given(tag_sequences)
def test_spans_from_tags_agrees_with_seqeval(tags):
    assert spans_from_tags(tags) == seqeval_spans(tags)


@pytest.mark.parametrize(
    "scheme, expected",
    [
        ("iob1", ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-PER"]),
        ("iob2", ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-PER"]),
        ("bioes", ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-PER"]),
    ],
)
def test_tags_from_spans_hand_case(scheme, expected):
    spans = [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (5, 6, "PER")]
    assert tags_from_spans(spans, 6, scheme) == expected


def test_tags_from_spans_defaults_to_bioes_and_accepts_unsorted_spans():
    assert tags_from_spans([(3, 4, "LOC"), (0, 3, "PER")], 5) == ["B-PER", "I-PER", "E-PER", "S-LOC", "O"]


@pytest.mark.parametrize(
    "spans, length, scheme, message",
    [
        ([(0, 1, "PER")], 1, "bilou", "unknown tag scheme"),
        ([(0, 2, "PER"), (1, 3, "LOC")], 3, "bioes", "overlaps"),
        ([(2, 4, "PER")], 3, "bioes", "outside"),
        ([(1, 1, "PER")], 3, "bioes", "empty"),
        ([(0, 1, "")], 3, "bioes", "empty type"),
    ],
)
def test_tags_from_spans_rejects(spans, length, scheme, message):
    with pytest.raises(ValueError, match=message):
        tags_from_spans(spans, length, scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@PROPERTY_SETTINGS
@given(span_layouts())
def test_spans_round_trip_through_tags(scheme, layout):
    spans, length = layout
    assert spans_from_tags(tags_from_spans(spans, length, scheme)) == spans


def test_convert_hand_cases():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert convert(iob1, "iob2") == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert convert(iob1, "bioes") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]
    assert convert(["B-PER", "E-PER", "O", "S-LOC"], "iob1") == ["I-PER", "I-PER", "O", "I-LOC"]
    # An invalid sequence is repaired on the way.
    assert convert(["O", "I-PER", "E-LOC"], "iob2") == ["O", "B-PER", "B-LOC"]


@pytest.mark.parametrize("scheme", SCHEMES)
@PROPERTY_SETTINGS
@given(tag_sequences)
def test_convert_preserves_spans(scheme, tags):
    converted = convert(tags, scheme)
    assert len(converted) == len(tags)
    assert spans_from_tags(converted) == spans_from_tags(tags)
    allowed_prefixes = {"O", "B", "I"} if scheme in ("iob1", "iob2") else {"O", "B", "I", "E", "S"}
    assert {parse_tag(tag)[0] for tag in converted} <= allowed_prefixes
    assert convert(converted, scheme) == converted


def test_spans_from_tag_ids_matches_spans_from_tags_on_random_batches():
    # The vectorised batch version must give exactly the per-sentence reference result,
    # including invalid sequences and padding.
    import numpy as np

    from eiwa.tags import spans_from_tag_ids

    names = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "I-ORG"]
    rng = np.random.default_rng(0)
    for _ in range(200):
        rows, steps = rng.integers(1, 6), rng.integers(1, 12)
        ids = rng.integers(0, len(names), size=(rows, steps))
        lengths = rng.integers(1, steps + 1, size=rows)
        got = spans_from_tag_ids(ids, lengths, names)
        for row in range(rows):
            expected = spans_from_tags([names[i] for i in ids[row, : lengths[row]]])
            assert got[row] == expected
