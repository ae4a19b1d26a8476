"""Tagging's fast path (eiwa.inference): feature modules and the BiLSTM's input projection run once per
distinct token of a window, the recurrence from a table of input gates. It must give what the plain
forward pass gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eiwa.features.base import Feature
from eiwa.inference import distinct_rows, window_gates
from eiwa.tagger import Tagger
from eiwa.tokenize import tokenizer_for

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ModuleNotFoundError:  # a test extra
    given = None

TEXTS = [
    "東京タワーに田中さんと行った。",
    "株式会社日立製作所は茨城県日立市で創業した",
    "京都",
    "大阪と京都と東京と福岡と札幌",
]


def _batches(tagger, texts, batch_size=2):
    sentences = tokenizer_for(tagger.config.lang).sentences(texts)
    encoded = tagger.encoder.encode(sentences, with_tags=False)
    precomputed = tagger.encoder.precompute(tagger.model, encoded, map, torch.device("cpu"))
    return [b.with_inputs(precomputed) for b in tagger.encoder.batches(encoded, batch_size, inference=True)]


def test_emissions_from_distinct_tokens_equal_the_forward_pass():
    tagger = Tagger.load("ja-wiki")  # every feature: char, word, pos, vectors, gazetteer
    batches = _batches(tagger, TEXTS * 3)
    with torch.inference_mode():
        tables = window_gates(tagger.model, batches)
        for batch, (gates, rows) in zip(batches, tables):
            fast = tagger.model.classifier.emissions_from_gates(gates, rows, batch.lengths)
            plain = tagger.model.emissions(batch)
            assert torch.allclose(fast[batch.mask], plain[batch.mask], atol=1e-4)
    assert len({id(gates) for gates, _ in tables}) == 1  # one table for the window


def test_a_feature_that_is_not_token_local_takes_the_plain_path(tiny_model_dir, monkeypatch):
    tagger = Tagger.load(tiny_model_dir)
    texts = ["John Smith lives in Paris", "Acme Corp hired Mary in London and Paris"] * 10
    fast = tagger.predict(texts)
    called = []
    monkeypatch.setattr(Feature, "token_local", False)
    monkeypatch.setattr("eiwa.inference.window_gates", lambda *a: called.append(1))
    plain = tagger.predict(texts)
    assert not called
    strip = lambda records: [[(e["start"], e["end"], e["type"]) for e in r["entities"]] for r in records]  # noqa: E731
    assert strip(fast) == strip(plain)
    confidences = lambda records: [e["confidence"] for r in records for e in r["entities"]]  # noqa: E731
    assert confidences(fast) == pytest.approx(confidences(plain), abs=1e-3)


def _check_distinct_rows(rows: torch.Tensor) -> None:
    distinct, inverse = distinct_rows(rows)
    assert torch.equal(distinct[inverse], rows)
    assert len(distinct) == len(torch.unique(rows, dim=0))


def test_distinct_rows_packs_wide_rows_without_overflow():
    rng = np.random.default_rng(0)
    wide = torch.from_numpy(rng.integers(0, 2**40, size=(500, 6)))  # 240 bits: packed in stages
    _check_distinct_rows(torch.cat([wide, wide[:100]]))
    _check_distinct_rows(torch.tensor([[1, -1], [1, -1], [0, 2]]))  # negative: torch.unique itself
    _check_distinct_rows(torch.zeros((0, 3), dtype=torch.int64))


if given is not None:

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.lists(st.integers(0, 6), min_size=3, max_size=3), min_size=1, max_size=40))
    def test_distinct_rows_finds_each_distinct_row_once(values):
        _check_distinct_rows(torch.tensor(values, dtype=torch.int64))
