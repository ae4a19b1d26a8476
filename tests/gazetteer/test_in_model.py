"""The gazetteer's lookup kept in a model's weights: save/load round trip, no cache needed, checksummed."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from helpers import tiny_config

from eiwa.build import build
from eiwa.doc import sentence_from_tags
from eiwa.errors import EiwaError, ModelError
from eiwa.gazetteer.matcher import Gazetteer
from eiwa.tagger import Tagger

NAMES = {"東京": {"place"}, "田中": {"person"}, "日本銀行": {"organization"}, "東京都": {"place", "other"}}
WORDS = [["田中", "は", "日本", "銀行", "と", "東京", "都", "に"], ["東京", "へ", "行く"]]


@pytest.fixture
def saved(tmp_path, monkeypatch):
    """A tiny Japanese model with the gazetteer feature, trained on a stand-in dictionary and saved."""
    gazetteer = Gazetteer.from_names(NAMES)
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: gazetteer))
    sentences = [sentence_from_tags(words, ["O"] * len(words), "ja") for words in WORDS]
    tagger = build(tiny_config(lang="ja", features="char,word,gazetteer"), sentences).tagger
    tagger.model.eval()
    tagger.save(tmp_path / "model")

    def no_dictionary(cls, path=None, **kwargs):
        raise EiwaError("gazetteer: JMnedict needs the package jamdict-data")

    monkeypatch.setattr(Gazetteer, "load", classmethod(no_dictionary))  # from here on, no cache and no package
    return tagger, gazetteer, sentences, tmp_path / "model"


def test_the_model_keeps_its_lookup_and_tags_without_the_dictionary(saved):
    tagger, gazetteer, sentences, directory = saved
    loaded = Tagger.load(directory)
    feature = loaded.encoder.features["gazetteer"]
    assert feature.state["names"] == len(gazetteer) and feature.state["fingerprint"] == gazetteer.fingerprint()
    assert feature.gazetteer.fingerprint() == gazetteer.fingerprint()
    keys, masks = feature.gazetteer.arrays
    assert np.array_equal(keys, gazetteer.arrays[0]) and np.array_equal(masks, gazetteer.arrays[1])
    before = tagger.encoder.encode(sentences).features["gazetteer"].columns["tags"]
    after = loaded.encoder.encode(sentences).features["gazetteer"].columns["tags"]
    assert all(np.array_equal(a, b) for a, b in zip(before, after)) and before[0].any()
    with torch.no_grad():
        batch = tagger.encoder.batch(tagger.encoder.encode(sentences), np.arange(len(sentences)))
        assert torch.equal(loaded.model.emissions(batch), tagger.model.emissions(batch))
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    assert set(vocab["features"]["gazetteer"]["state"]) >= {"fingerprint", "names", "min_length", "max_length"}


def test_the_checksum_covers_the_lookup(saved):
    directory = saved[3]
    path = directory / "model.safetensors"
    data = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", data[:8])[0]
    start, _ = json.loads(data[8 : 8 + header_size])["gazetteer.keys"]["data_offsets"]
    data[8 + header_size + start] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged"):
        Tagger.load(directory)


def test_from_arrays_takes_the_arrays_of_another_gazetteer():
    gazetteer = Gazetteer.from_names(NAMES)
    keys, masks = gazetteer.arrays
    again = Gazetteer.from_arrays(keys.view(np.int64), masks, *gazetteer.length_range)
    assert again.fingerprint() == gazetteer.fingerprint()
    assert np.array_equal(again.match(WORDS[0]), gazetteer.match(WORDS[0]))
    with pytest.raises(EiwaError, match="not sorted"):
        Gazetteer.from_arrays(keys[::-1], masks[::-1], 2, 4)
    with pytest.raises(EiwaError, match="one length"):
        Gazetteer.from_arrays(keys, masks[:-1], 2, 4)
    with pytest.raises(EiwaError, match="keys only"):
        list(again.names())
