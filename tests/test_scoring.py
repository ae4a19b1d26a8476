"""Tests for eiwa.scoring: exact-match entity scores, checked by hand and against seqeval."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from eiwa.scoring import Scores, score, score_tags, type_warnings

TYPES = ("PER", "LOC", "ORG")
TAGS = ["O"] + [f"{prefix}-{type_}" for prefix in "BIES" for type_ in TYPES]


@st.composite
def gold_and_predicted(draw):
    """Random gold sentences, and predictions that copy about half of the gold tags so that some entities match."""
    gold = draw(st.lists(st.lists(st.sampled_from(TAGS), max_size=12), min_size=1, max_size=5))
    predicted = [[tag if draw(st.booleans()) else draw(st.sampled_from(TAGS)) for tag in sentence] for sentence in gold]
    return gold, predicted


def assert_matches_seqeval(scores: Scores, gold, predicted):
    assert scores.precision == pytest.approx(precision_score(gold, predicted))
    assert scores.recall == pytest.approx(recall_score(gold, predicted))
    assert scores.f1 == pytest.approx(f1_score(gold, predicted))
    report = classification_report(gold, predicted, output_dict=True)
    assert set(scores.per_type) == set(report) - {"micro avg", "macro avg", "weighted avg"}
    for type_, type_scores in scores.per_type.items():
        assert type_scores.precision == pytest.approx(report[type_]["precision"])
        assert type_scores.recall == pytest.approx(report[type_]["recall"])
        assert type_scores.f1 == pytest.approx(report[type_]["f1-score"])
        assert type_scores.gold == report[type_]["support"]


GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
PREDICTED = [["B-PER", "I-PER", "B-MISC", "B-ORG"], ["B-ORG", "I-ORG", "B-PER"]]
# Gold spans:      PER(0,2) LOC(3,4) | ORG(0,1) PER(2,3)            -> 4 entities
# Predicted spans: PER(0,2) MISC(2,3) ORG(3,4) | ORG(0,2) PER(2,3)  -> 5 entities
# Correct: PER(0,2) in sentence 0 and PER(2,3) in sentence 1        -> 2 true positives
# Micro: P = 2/5 = 0.4, R = 2/4 = 0.5, F1 = 2 * 0.4 * 0.5 / 0.9 = 4/9
# PER:  tp 2, predicted 2, gold 2 -> P = R = F1 = 1
# LOC:  tp 0, predicted 0, gold 1 -> P undefined (0), R = 0, F1 = 0
# MISC: tp 0, predicted 1, gold 0 -> P = 0, R undefined (0), F1 = 0
# ORG:  tp 0, predicted 2, gold 1 -> P = R = F1 = 0 (ORG(0,1) vs ORG(0,2) differ)


@pytest.mark.filterwarnings("ignore")
def test_score_tags_hand_example():
    scores = score_tags(GOLD, PREDICTED)
    assert (scores.true_positives, scores.predicted, scores.gold) == (2, 5, 4)
    assert scores.precision == pytest.approx(0.4)
    assert scores.recall == pytest.approx(0.5)
    assert scores.f1 == pytest.approx(4 / 9)
    assert list(scores.per_type) == ["LOC", "MISC", "ORG", "PER"]
    assert scores.per_type["PER"] == Scores(1.0, 1.0, 1.0, 2, 2, 2)
    assert scores.per_type["LOC"] == Scores(0.0, 0.0, 0.0, 0, 0, 1)
    assert scores.per_type["MISC"] == Scores(0.0, 0.0, 0.0, 0, 1, 0)
    assert scores.per_type["ORG"] == Scores(0.0, 0.0, 0.0, 0, 2, 1)
    assert_matches_seqeval(scores, GOLD, PREDICTED)


def test_to_dict():
    result = score_tags(GOLD, PREDICTED).to_dict()
    assert result["true_positives"] == 2
    assert result["f1"] == pytest.approx(4 / 9)
    assert list(result["per_type"]) == ["LOC", "MISC", "ORG", "PER"]
    assert result["per_type"]["PER"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "true_positives": 2,
        "predicted": 2,
        "gold": 2,
    }


def test_score_on_character_spans_counts_duplicates_once():
    gold = [[(0, 5, "PER"), (10, 15, "LOC")], []]
    predicted = [[(0, 5, "PER"), (0, 5, "PER"), (10, 14, "LOC")], [(0, 3, "PER")]]
    scores = score(gold, predicted)
    # Predicted: PER(0,5), LOC(10,14) and PER(0,3) in sentence 1; only PER(0,5) is in gold.
    assert (scores.true_positives, scores.predicted, scores.gold) == (1, 3, 2)
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.recall == pytest.approx(1 / 2)
    assert scores.per_type["PER"].predicted == 2


def test_score_matches_spans_within_the_same_sentence_only():
    scores = score([[(0, 1, "PER")], []], [[], [(0, 1, "PER")]])
    assert scores.true_positives == 0


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=200, deadline=None, database=None)
@given(gold_and_predicted())
def test_score_tags_agrees_with_seqeval(sentences):
    gold, predicted = sentences
    assert_matches_seqeval(score_tags(gold, predicted), gold, predicted)


@pytest.mark.filterwarnings("ignore")
def test_no_predictions():
    gold, predicted = [["B-PER", "I-PER", "O"]], [["O", "O", "O"]]
    scores = score_tags(gold, predicted)
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)
    assert (scores.true_positives, scores.predicted, scores.gold) == (0, 0, 1)
    assert_matches_seqeval(scores, gold, predicted)


@pytest.mark.filterwarnings("ignore")
def test_no_gold_entities():
    gold, predicted = [["O", "O"]], [["S-LOC", "O"]]
    scores = score_tags(gold, predicted)
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)
    assert (scores.true_positives, scores.predicted, scores.gold) == (0, 1, 0)
    assert_matches_seqeval(scores, gold, predicted)


def test_no_entities_at_all():
    scores = score_tags([["O"], []], [["O"], []])
    assert scores == Scores(0.0, 0.0, 0.0, 0, 0, 0)
    assert score([], []) == Scores(0.0, 0.0, 0.0, 0, 0, 0)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="sentences"):
        score([[(0, 1, "PER")]], [])
    with pytest.raises(ValueError, match="sentences"):
        score_tags([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 1"):
        score_tags([["O"], ["O", "B-PER"]], [["O"], ["O"]])


def test_type_warnings_name_the_types_only_one_side_has():
    assert type_warnings(["PER", "LOC"], ["LOC", "PER"]) == []
    assert type_warnings([], ["PER"]) == []  # no gold entities: nothing to compare (read_gold refuses such data)
    (none,) = type_warnings(["PSN"], ["PER", "LOC"])
    assert none.startswith("none of the data's entity types (PSN) is one the model tags (LOC, PER): every score is 0")
    only_data, only_model = type_warnings(["PER", "CITY"], ["PER", "LOC"])
    assert only_data.startswith("the data's types CITY are not among the model's (LOC, PER)")
    assert only_model.startswith("the model's types LOC do not occur in the data (CITY, PER)")
