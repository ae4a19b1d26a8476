"""The contract every registered feature passes (as flair's BaseEmbeddingsTest does for embeddings):
declared settings, odd Unicode and empty tokens, the module's output shape, inference with
precomputed tensors, a save/load round trip and a transfer round trip.

Each test runs once per feature of the registry, so that a new feature is checked by adding it.
Features that need more than the data get a tiny stand-in for their resource (RESOURCES); where
the stand-in needs a package that is not installed, the feature's tests skip and say so.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import synthetic_tagged, tiny_config

from eiwa import features
from eiwa.build import build
from eiwa.config import Config
from eiwa.doc import sentence_from_tags
from eiwa.features import FEATURES
from eiwa.features.base import Feature, Setting
from eiwa.tagger import Tagger

# Combining mark, emoji joined by ZWJ, full-width letters and digits, a full-width space, kanji,
# a lone surrogate (Python strings from the API can hold one; MeCab reads it as U+FFFD), an empty token.
ODD_TOKENS = [
    "e\u0301",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "ＡＢＣ１２３",
    "\u3000",
    "東京",
    "\ud800",
    "",
    "x",
]
ODD_TAGS = ["O", "B-LOC", "O", "O", "B-LOC", "O", "O", "O"]
JAPANESE = [
    (["田中", "さん", "は", "東京", "に", "住む", "。"], ["B-PER", "O", "O", "B-LOC", "O", "O", "O"]),
    (
        ["日本", "銀行", "が", "大阪", "で", "発表", "し", "た", "。"],
        ["B-ORG", "I-ORG", "O", "B-LOC", "O", "O", "O", "O", "O"],
    ),
]


def japanese(examples) -> list:
    return [sentence_from_tags(tokens, tags, "ja") for tokens, tags in examples]


@pytest.fixture(scope="module")
def sentences():
    """Training sentences: synthetic ones read as Japanese, Japanese ones, and the odd tokens."""
    return japanese(synthetic_tagged(12, seed=1) + JAPANESE + [(ODD_TOKENS, ODD_TAGS)])


@pytest.fixture(scope="module")
def odd():
    """The odd tokens in sentences of their own, and with unseen odd forms (a lone surrogate at the end)."""
    return japanese([(ODD_TOKENS, ODD_TAGS), (["\ufeff", "ﾃｽﾄ", "a\u0308\u0308", "\ud83d"], ["O"] * 4)])


# ----------------------------------------------------------------------------- stand-ins for resources


def _vectors(tmp_path, monkeypatch) -> dict:
    pytest.importorskip("spacy", reason="the vectors feature reads a spaCy vocab folder (pip install 'eiwa[vectors]')")
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    strings = StringStore()
    table = Vectors(strings=strings, data=np.eye(3, 4, dtype=np.float32))
    for key, row in (("東京", 0), ("大阪", 0), ("銀行", 1), ("住む", 2)):
        table.add(strings.add(key), row=row)
    table.to_disk(tmp_path / "vocab")
    return {"vectors_table": str(tmp_path / "vocab"), "vectors_dim": 5}


def _gazetteer(tmp_path, monkeypatch) -> dict:
    from eiwa.gazetteer.matcher import Gazetteer

    gazetteer = Gazetteer.from_names({"東京": {"place"}, "田中": {"person"}, "日本銀行": {"organization"}})
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: gazetteer))
    return {}


RESOURCES = {"vectors": _vectors, "gazetteer": _gazetteer}  # feature -> settings of its stand-in


@pytest.fixture(params=features.names())
def config(request, tmp_path, monkeypatch) -> Config:
    """A tiny Japanese config with one feature enabled: the parameter."""
    name = request.param
    settings = RESOURCES[name](tmp_path, monkeypatch) if name in RESOURCES else {}
    return tiny_config(lang="ja", features=name, **settings)


def randomised(tagger: Tagger) -> Tagger:
    """The tagger with every parameter moved off its initial value, so that it tags something."""
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in tagger.model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))
    tagger.model.eval()
    return tagger


# ----------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("name", features.names())
def test_declares_its_name_settings_and_help(name):
    cls = FEATURES[name]
    assert issubclass(cls, Feature) and cls.name == name
    assert features.description(name), f"{name}: its class docstring's first line is its help"
    for key, setting in cls.settings.items():
        assert isinstance(setting, Setting) and setting.help
        setting.check(key, setting.default)  # the default is allowed
        assert getattr(Config(), key) == setting.default
    assert set(cls.architecture()) <= set(cls.settings)
    others = [key for other in FEATURES.values() if other is not cls for key in other.settings]
    assert not set(cls.settings) & set(others), "a setting belongs to one feature"


def test_legacy_ranks_are_distinct():
    ranks = [cls.legacy_init_rank for cls in FEATURES.values() if cls.legacy_init_rank is not None]
    assert len(ranks) == len(set(ranks))


def test_odd_and_empty_tokens_give_one_vector_each(config, sentences, odd):
    name = config.features
    tagger = randomised(build(config, sentences).tagger)
    encoded = tagger.encoder.encode(odd, with_tags=False)
    batch = tagger.encoder.batch(encoded, np.arange(len(odd)))
    module = getattr(tagger.model, name)
    with torch.no_grad():
        output = module(batch.inputs[name])
        assert output.shape == (len(odd), max(map(len, odd)), module.output_dim)
        assert torch.isfinite(output).all()
        # Inference reads the feature's precomputed tensors, if any: the same vectors at every token.
        precomputed = tagger.encoder.precompute(tagger.model, encoded, map, torch.device("cpu"))
        with_precomputed = module(batch.with_inputs(precomputed).inputs[name])
        torch.testing.assert_close(with_precomputed[batch.mask], output[batch.mask])
    tagged = tagger.tag_sentences(odd, confidence=True)
    assert len(tagged) == len(odd)
    assert tagger.predict("".join(ODD_TOKENS))[0]["text"] == "".join(ODD_TOKENS)


def test_save_and_load_give_the_same_predictions(config, sentences, odd, tmp_path):
    tagger = randomised(build(config, sentences).tagger)
    tagger.save(tmp_path / "model")
    loaded = Tagger.load(tmp_path / "model")
    evaluated = odd + sentences[-3:]
    batch = tagger.encoder.batch(tagger.encoder.encode(evaluated), np.arange(len(evaluated)))
    with torch.no_grad():
        assert torch.equal(loaded.model.emissions(batch), tagger.model.emissions(batch))
    assert loaded.tag_sentences(evaluated, confidence=True) == tagger.tag_sentences(evaluated, confidence=True)
    assert any(tagger.tag_sentences(evaluated)), "the randomised model tags something to compare"


def test_transfer_copies_the_module_exactly(config, sentences):
    name = config.features
    source = randomised(build(config, sentences).tagger)
    target, report = build(dataclasses.replace(config, seed=2), sentences, source, [name], {})
    assert report.modules == [name]
    source_state, target_state = getattr(source.model, name).state_dict(), getattr(target.model, name).state_dict()
    assert list(target_state) == list(source_state)
    for key, value in source_state.items():
        assert torch.equal(target_state[key], value), f"{name}.{key}"


# The legacy features draw from the shared random stream in their rank order instead.
@pytest.mark.parametrize("config", [n for n in features.names() if FEATURES[n].legacy_init_rank is None], indirect=True)
def test_a_feature_seeded_by_its_name_starts_the_same_whatever_else_is_enabled(config, sentences):
    name = config.features
    alone = build(config, sentences).tagger
    with_others = build(dataclasses.replace(config, features=f"char,word,{name}"), sentences).tagger
    for key, value in getattr(alone.model, name).state_dict().items():
        assert torch.equal(getattr(with_others.model, name).state_dict()[key], value)
