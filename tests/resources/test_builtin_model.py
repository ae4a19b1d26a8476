"""Every built-in model tags after a plain install: an empty cache, no jamdict-data, no ja-ginza, no spaCy."""

from __future__ import annotations

import sys

import pytest

import eiwa
from eiwa.gazetteer.matcher import Gazetteer
from eiwa.resources.chive import VectorTable


@pytest.fixture
def plain_install(tmp_path, monkeypatch):
    """An empty cache, no optional package, and no read of a compiled dictionary or of chiVe."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EIWA_CACHE_DIR", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for package in ("jamdict_data", "ja_ginza", "spacy"):
        monkeypatch.setitem(sys.modules, package, None)  # an import of it fails
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: pytest.fail("cache read")))
    monkeypatch.setattr(VectorTable, "load", classmethod(lambda cls, source="chive": pytest.fail("chiVe read")))
    yield cache
    assert not cache.exists() and not (tmp_path / ".cache").exists()


def test_ja_wiki_needs_no_cache_and_no_optional_package(plain_install):
    [result] = eiwa.load("ja-wiki").predict("田中さんは東京の日本銀行に勤めている。")
    found = [(entity["text"], entity["type"]) for entity in result["entities"]]
    assert ("東京", "地名") in found and ("日本銀行", "法人名") in found
    assert any(kind == "人名" and text.startswith("田中") for text, kind in found)


@pytest.mark.parametrize("name", ["conll03-en", "conll03-en-shared", "conll-wikiann-en"])
def test_english_models_need_no_cache_and_no_optional_package(plain_install, tmp_path, name):
    rows = ["John NNP B-PER", "Smith NNP I-PER", "lives VBZ O", "in IN O", "Tokyo NNP B-LOC", ". . O"]
    (tmp_path / "a.conll").write_text("\n".join(rows) + "\n", encoding="utf-8")
    sentences = eiwa.read(tmp_path / "a.conll", "conll", columns=["token", "pos", "tag"]).sentences
    [spans] = eiwa.load(name).tag_sentences(sentences)
    assert ("Tokyo", "LOC") in [(sentences[0].text[s.start : s.end], s.type) for s in spans]
