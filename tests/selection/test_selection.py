"""eiwa.selection: what to annotate next, by CRF uncertainty kept varied, or at random."""

from __future__ import annotations

import numpy as np
import pytest

import eiwa
from eiwa.errors import EiwaError
from eiwa.selection import STRATEGIES, Pool, select, select_texts, strategies
from eiwa.selection.diversity import bigram_tfidf, diverse_order, similarities
from eiwa.selection.uncertainty import unit_uncertainty
from eiwa.tagger import Tagger
from eiwa.tokenize import tokenizer_for

# The tiny model knows these templates and names well; made-up names in an unseen frame puzzle it.
SURE = ["Nothing happened today.", "John Smith lives in Paris.", "It rained in Tokyo again."]
AMBIGUOUS = "Blorp Qwerty went to Zorg."


@pytest.fixture(scope="module")
def tagger(tiny_model_dir):
    return Tagger.load(tiny_model_dir)


@pytest.fixture(scope="module")
def pool_texts():
    texts = [f"{name} lives in {place}." for name in ("Mary", "Tom", "Anna Lee") for place in ("Osaka", "Berlin")]
    return texts + SURE + [AMBIGUOUS, "Qwerty zxcv blorp in Fnord.", "", "Peter works for Sony in Osaka."]


def test_uncertainty_of_known_marginals():
    sure = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    torn = np.array([[0.5, 0.5]], np.float32)  # as likely an entity as not
    empty = np.zeros((0, 2), np.float32)
    scores = unit_uncertainty([sure, torn, empty], outside=0)
    assert scores[0] == pytest.approx(0.0) and np.isnan(scores[2])
    assert scores[1] == pytest.approx(((1 - 0.5) + 1.0) / 2)
    # Units of several sentences are scored over all their tokens: the geometric mean of the best
    # tag's probability over sure + torn is 0.5 ** (1 / 3); the closest call is torn's.
    grouped = unit_uncertainty([sure, torn, empty], outside=0, unit_sizes=np.array([2, 0, 1]))
    assert grouped[0] == pytest.approx(((1 - 0.5 ** (1 / 3)) + 1.0) / 2)
    assert np.isnan(grouped[1]) and np.isnan(grouped[2])


def test_bigram_cosines():
    vectors = bigram_tfidf(["東京に行った。", "東京に行った。", "abcdef", "x", ""])
    cosines = similarities(vectors, 0, np.zeros(vectors.width))
    assert cosines[:2] == pytest.approx([1.0, 1.0])
    assert cosines[2:].tolist() == [0.0, 0.0, 0.0]  # nothing shared; no bigram at all


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_n_distinct_indices_none_excluded_deterministic(tagger, pool_texts, strategy):
    exclude = {0, 3, len(pool_texts) - 1}
    chosen = select_texts(tagger, pool_texts, 5, strategy=strategy, seed=3, exclude=exclude)
    assert len(chosen) == len(set(chosen)) == 5
    assert not exclude & set(chosen) and all(0 <= i < len(pool_texts) for i in chosen)
    assert chosen == select_texts(tagger, pool_texts, 5, strategy=strategy, seed=3, exclude=exclude)
    everything = select_texts(tagger, pool_texts, 100, strategy=strategy, exclude=exclude)
    assert sorted(everything) == sorted(set(range(len(pool_texts))) - exclude)


def test_random_is_a_seeded_sample(tagger, pool_texts):
    draws = {tuple(select_texts(tagger, pool_texts, 4, strategy="random", seed=seed)) for seed in range(5)}
    assert len(draws) > 1
    expected = np.random.default_rng(7).choice(np.arange(len(pool_texts)), 4, replace=False).tolist()
    assert select_texts(tagger, pool_texts, 4, strategy="random", seed=7) == expected


def test_the_ambiguous_text_comes_before_sure_ones_and_an_empty_one_last(tagger, pool_texts):
    order = select_texts(tagger, pool_texts, len(pool_texts), diversity=0)
    position = {pool_texts[index]: rank for rank, index in enumerate(order)}
    assert all(position[AMBIGUOUS] < position[text] for text in SURE)
    assert order[-1] == pool_texts.index("")


def test_pre_tokenized_sentences_are_ranked_the_same(tagger, pool_texts):
    sentences = tokenizer_for("en").sentences(pool_texts)
    assert select(tagger, sentences, 6, diversity=0) == select_texts(tagger, pool_texts, 6, diversity=0)
    assert eiwa.select is select and eiwa.select_texts is select_texts


def test_a_text_of_several_sentences_is_one_unit(tagger):
    texts = ["Mary lives in Osaka. " + AMBIGUOUS, "Nothing happened today."]
    pool = Pool.from_texts(tagger, texts)
    both = tokenizer_for("en").sentences(["Mary lives in Osaka.", AMBIGUOUS])
    expected = unit_uncertainty(tagger.marginals(both), 0, np.array([2]))
    assert len(pool) == 2 and pool.uncertainty[0] == pytest.approx(expected[0])
    assert select_texts(tagger, texts, 1) == [0]


def test_diversity_keeps_copies_apart(tagger, pool_texts):
    copies = [AMBIGUOUS] * 2
    texts = pool_texts + copies
    copy_indices = {pool_texts.index(AMBIGUOUS), *range(len(pool_texts), len(texts))}
    plain = select_texts(tagger, texts, 4, diversity=0)
    assert set(plain[:3]) == copy_indices  # the copies are equally unsure: picked together
    varied = select_texts(tagger, texts, 4)
    assert len(copy_indices & set(varied)) == 1


def test_diverse_order_trades_uncertainty_for_difference():
    texts = ["aaaa bbbb", "aaaa bbbb", "cccc dddd"]
    scores = np.array([1.0, 0.9, 0.5])
    assert diverse_order(scores, texts, 2, weight=0) == [0, 1]
    assert diverse_order(scores, texts, 2, weight=1.0) == [0, 2]


@pytest.mark.parametrize(
    ("n", "strategy", "texts", "exclude", "message"),
    [
        (0, "uncertainty", ["a"], (), "n must be"),
        (-2, "random", ["a"], (), "n must be"),
        (1, "confidence", ["a"], (), "unknown selection strategy 'confidence': choose one of"),
        (1, "uncertainty", [], (), "the pool is empty"),
        (1, "uncertainty", ["a", "b"], (5,), "exclude: index 5 is not in a pool of 2"),
    ],
)
def test_bad_requests_are_one_line_errors(tagger, n, strategy, texts, exclude, message):
    with pytest.raises(EiwaError, match=message) as raised:
        select_texts(tagger, texts, n, strategy=strategy, exclude=exclude)
    assert "\n" not in str(raised.value)


def test_everything_excluded_leaves_nothing(tagger):
    assert select_texts(tagger, ["a", "b"], 3, exclude=[0, 1]) == []


def test_scoring_a_chunk_at_a_time_changes_nothing(tagger, pool_texts, monkeypatch):
    whole = Pool.from_texts(tagger, pool_texts).uncertainty
    monkeypatch.setattr(strategies, "CHUNK", 3)
    chunked = Pool.from_texts(tagger, pool_texts).uncertainty
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    sentences = tokenizer_for("en").sentences(pool_texts)
    np.testing.assert_allclose(Pool(tagger, sentences).uncertainty, whole, rtol=1e-6)
