"""embed_resources: an older model (its vectors' key strings in vocab.json, its gazetteer read from the
compiled cache) gets both into its weights, atomically, and tags exactly as before."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import tiny_config

from eiwa.build import build
from eiwa.doc import sentence_from_tags
from eiwa.errors import EiwaError
from eiwa.features.embed import embed_resources
from eiwa.gazetteer.matcher import Gazetteer
from eiwa.persist.model_dir import read_meta, rewrite_model
from eiwa.resources.chive import VectorTable, _string_fingerprint, string_keys
from eiwa.tagger import Tagger

VECTOR_KEYS = {"東京": 0, "大阪": 0, "銀行": 1, "住む": 2, "田中": 2}
WORDS = [["田中", "さん", "は", "東京", "に", "住む"], ["日本", "銀行", "が", "大阪", "で"]]


def vocab_folder(folder):
    """A spaCy vocab folder of three rows (numpy's .npy and a msgpack map, as spaCy writes them)."""
    folder.mkdir()
    with open(folder / "vectors", "wb") as out:
        np.save(out, np.eye(3, 4, dtype=np.float32))
    pairs = b"".join(
        b"\xcf" + int(key).to_bytes(8, "big") + bytes([row])
        for key, row in zip(string_keys(list(VECTOR_KEYS)), VECTOR_KEYS.values())
    )
    (folder / "key2row").write_bytes(b"\xdf" + len(VECTOR_KEYS).to_bytes(4, "big") + pairs)
    return folder


def as_saved_by_eiwa_03(directory) -> None:
    """Rewrite a model as older eiwa saved it: vector key strings in vocab.json, no tables in the weights."""

    def change(weights, vocab, config):
        for name in ("vectors.keys", "vectors.key_rows", "gazetteer.keys", "gazetteer.masks"):
            del weights[name]
        features = vocab["features"]
        features["gazetteer"]["state"] = {k: features["gazetteer"]["state"][k] for k in ("fingerprint", "groups")}
        rows = weights["vectors.table"][:-1].numpy()
        by_row = sorted(VECTOR_KEYS, key=lambda key: (VECTOR_KEYS[key], key))
        counts = np.bincount(list(VECTOR_KEYS.values()), minlength=len(rows)).tolist()
        table = {"source": "tiny", "dim": 4, "n_rows": len(rows), "keys": by_row, "counts": counts}
        features["vectors"]["state"]["table"] = {**table, "fingerprint": _string_fingerprint(by_row, counts, rows)}
        return True

    rewrite_model(directory, change)


@pytest.fixture
def older_model(tmp_path, monkeypatch):
    gazetteer = Gazetteer.from_names({"東京": {"place"}, "田中": {"person"}, "日本銀行": {"organization"}})
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: gazetteer))
    sentences = [sentence_from_tags(words, ["O"] * len(words), "ja") for words in WORDS]
    config = tiny_config(
        lang="ja", features="char,word,vectors,gazetteer", vectors_table=str(vocab_folder(tmp_path / "vocab"))
    )
    tagger = build(config, sentences).tagger
    tagger.model.eval()
    tagger.save(tmp_path / "model")
    (tmp_path / "model" / "MODEL_CARD.md").write_text("# tiny\n", encoding="utf-8")
    as_saved_by_eiwa_03(tmp_path / "model")
    return tagger, sentences, tmp_path / "model", gazetteer


def emissions(tagger: Tagger, sentences) -> torch.Tensor:
    batch = tagger.encoder.batch(tagger.encoder.encode(sentences), np.arange(len(sentences)))
    with torch.no_grad():
        return tagger.model.emissions(batch)


def test_an_older_model_gets_its_resources_and_tags_the_same(older_model, monkeypatch):
    tagger, sentences, directory, _ = older_model
    expected = emissions(tagger, sentences)
    assert torch.equal(emissions(Tagger.load(directory), sentences), expected)  # it loads as it is
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    assert "keys" in vocab["features"]["vectors"]["state"]["table"]

    assert embed_resources(directory) == ["gazetteer", "vectors"]
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: pytest.fail("cache read")))
    monkeypatch.setattr(VectorTable, "load", classmethod(lambda cls, source="chive": pytest.fail("vectors read")))
    loaded = Tagger.load(directory)
    assert torch.equal(emissions(loaded, sentences), expected)
    assert (directory / "MODEL_CARD.md").read_text(encoding="utf-8") == "# tiny\n"
    assert set(read_meta(directory)["files"]) == {"model.safetensors", "config.json", "vocab.json"}
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    assert "keys" not in vocab["features"]["vectors"]["state"]["table"]
    assert vocab["features"]["gazetteer"]["state"]["names"] == len(loaded.encoder.features["gazetteer"].gazetteer)

    written = (directory / "model.safetensors").stat().st_mtime_ns
    assert embed_resources(directory) == []  # self-contained already: left as it was
    assert (directory / "model.safetensors").stat().st_mtime_ns == written


def test_another_compiled_dictionary_is_refused_and_the_model_left_whole(older_model, monkeypatch):
    directory = older_model[2]
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    other = Gazetteer.from_names({"大阪": {"place"}})
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: other))
    with pytest.raises(EiwaError, match="trained with dictionary"):
        embed_resources(directory)
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before
