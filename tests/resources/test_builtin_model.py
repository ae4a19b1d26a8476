"""The built-in ja-wiki tags after a plain install: an empty cache, no jamdict-data, no ja-ginza, no spaCy."""

from __future__ import annotations

import sys

import pytest

import eiwa
from eiwa.gazetteer.matcher import Gazetteer
from eiwa.resources.chive import VectorTable


def test_ja_wiki_needs_no_cache_and_no_optional_package(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("EIWA_CACHE_DIR", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for package in ("jamdict_data", "ja_ginza", "spacy"):
        monkeypatch.setitem(sys.modules, package, None)  # an import of it fails
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: pytest.fail("cache read")))
    monkeypatch.setattr(VectorTable, "load", classmethod(lambda cls, source="chive": pytest.fail("chiVe read")))

    [result] = eiwa.load("ja-wiki").predict("田中さんは東京の日本銀行に勤めている。")
    found = [(entity["text"], entity["type"]) for entity in result["entities"]]
    assert ("東京", "地名") in found and ("日本銀行", "法人名") in found
    assert any(kind == "人名" and text.startswith("田中") for text, kind in found)
    assert not cache.exists() and not (tmp_path / ".cache").exists()
