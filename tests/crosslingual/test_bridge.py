"""The dictionary bridge (JMdict glosses -> English source rows) and `new_rows = unknown`."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import synthetic_sentences, tiny_config

from eiwa.build import build
from eiwa.crosslingual import bridge
from eiwa.crosslingual.bridge import bridge_word_rows, dictionary_rows, gloss_words, headwords_to_add, load_glosses
from eiwa.doc import sentence_from_tags
from eiwa.errors import EiwaError

# The JMdict tables of jamdict-data 1.5 that the bridge reads.
JMDICT_SCHEMA = """
CREATE TABLE Kanji (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT);
CREATE TABLE Kana (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT, nokanji BOOLEAN);
CREATE TABLE KJP (kid INTEGER, text TEXT);
CREATE TABLE KNP (kid INTEGER, text TEXT);
CREATE TABLE Sense (ID INTEGER PRIMARY KEY, idseq INTEGER);
CREATE TABLE SenseGloss (sid INTEGER, lang TEXT, gend TEXT, text TEXT);
"""

# (idseq, kanji, kana, [senses: [glosses]], common)
ENTRIES = [
    (1, "東京", "とうきょう", [["Tokyo"]], True),
    (2, "住む", "すむ", [["to live (somewhere)", "to reside"]], True),
    (3, "働く", "はたらく", [["to work", "to labor"], ["to commit (a crime)"]], True),
    (4, "雨", "あめ", [["rain"]], False),  # not common: never added beyond the training words
    (5, "大阪市", "おおさかし", [["Osaka City"]], True),  # multi-word gloss: the words' rows
    (6, "無名", "むめい", [["anonymity"]], True),  # the source knows none of its words
    (7, "今日", "きょう", [["today", "this day"], ["these days"], ["nowadays (third sense: ignored)"]], True),
]


def make_jmdict(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(JMDICT_SCHEMA)
    for idseq, kanji, kana, senses, common in ENTRIES:
        kid = connection.execute("INSERT INTO Kanji (idseq, text) VALUES (?, ?)", (idseq, kanji)).lastrowid
        nid = connection.execute("INSERT INTO Kana (idseq, text, nokanji) VALUES (?, ?, 0)", (idseq, kana)).lastrowid
        if common:
            connection.execute("INSERT INTO KJP VALUES (?, 'news1')", (kid,))
            connection.execute("INSERT INTO KNP VALUES (?, 'ichi1')", (nid,))
        else:
            connection.execute("INSERT INTO KJP VALUES (?, 'nf40')", (kid,))  # a frequency band, not "(P)"
        for glosses in senses:
            sid = connection.execute("INSERT INTO Sense (idseq) VALUES (?)", (idseq,)).lastrowid
            connection.executemany("INSERT INTO SenseGloss VALUES (?, 'eng', NULL, ?)", [(sid, g) for g in glosses])
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def jmdict(tmp_path, monkeypatch):
    path = str(make_jmdict(tmp_path / "jmdict.db"))
    monkeypatch.setattr(bridge, "_database", lambda database=None: database or path)
    bridge.load_glosses.cache_clear()
    bridge.common_headwords.cache_clear()
    yield path
    bridge.load_glosses.cache_clear()
    bridge.common_headwords.cache_clear()


def test_gloss_words():
    assert gloss_words("to live (somewhere)") == ["live"]
    assert gloss_words("Ōsaka City") == ["Osaka", "City"]
    assert gloss_words("one's own") == ["own"] and gloss_words("(obsolete)") == []


def test_glosses_of_the_first_two_senses(jmdict):
    glosses = load_glosses()
    assert glosses["住む"] == (("live",), ("reside",)) and glosses["すむ"] == glosses["住む"]
    assert glosses["今日"] == (("today",), ("this", "day"), ("these", "days"))  # the third sense is left out
    assert glosses["働く"] == (("work",), ("labor",), ("commit",))


def test_dictionary_rows_prefer_single_word_glosses():
    rows = {"today": 3, "day": 4, "osaka": 5, "city": 6}.get
    assert dictionary_rows((("today",), ("this", "day")), lambda w: rows(w.lower())) == [3]
    assert dictionary_rows((("osaka", "city"),), rows) == [5, 6]
    assert dictionary_rows((("anonymity",),), rows) == []


@pytest.fixture(scope="module")
def english():
    return build(tiny_config(seed=7), synthetic_sentences(40, seed=3)).tagger


def ja_sentences():
    return [
        sentence_from_tags(["東京", "に", "住む"], ["B-LOC", "O", "O"], "ja"),
        sentence_from_tags(["大阪市", "で", "働く", "無名"], ["B-LOC", "O", "O", "O"], "ja"),
    ]


def test_bridged_rows_are_the_means_of_the_glosses_source_rows(english, jmdict):
    source_words = english.encoder.features["word"].vocabs["words"]
    source_rows = english.model.word.embedding.weight.detach()
    config = tiny_config(lang="ja", char_input="romaji", word_bridge="jmdict", new_rows="unknown")
    target, report = build(config, ja_sentences(), english, ["char", "word", "classifier"], {"LOC": ["LOC"]})
    words = target.encoder.features["word"].vocabs["words"]
    rows = target.model.word.embedding.weight.detach()
    row_of = lambda english_word: source_rows[source_words.ids[english_word]]  # noqa: E731
    assert torch.allclose(rows[words.ids["東京"]], row_of("tokyo"))
    assert torch.allclose(rows[words.ids["大阪市"]], row_of("osaka"))  # 'Osaka City': the words the source knows
    # unbridged new words (no gloss known to the source: 'live' is not 'lives') start as the source's unknown row
    for word in ("無名", "に", "住む", "働く"):
        assert torch.equal(rows[words.ids[word]], source_rows[1]), word
    # common headwords whose glosses the source knows join the vocabulary; 雨 is not common
    assert "今日" in words and "きょう" in words and "雨" not in words
    assert torch.allclose(rows[words.ids["今日"]], row_of("today"))
    assert [
        w for w in words.items[words.inherited :] if w not in ("東京", "に", "住む", "大阪市", "で", "働く", "無名")
    ] == sorted(["今日", "きょう", "とうきょう", "おおさかし"])  # appended in sorted order
    assert report.bridge.added_headwords == 4 and report.bridge.by_dictionary == 6
    assert any("word bridge (jmdict)" in line for line in report.lines())
    assert target.meta["transfer"]["bridge"]["added_headwords"] == 4
    assert "CC BY-SA" in target.meta["transfer"]["bridge"]["licence"]


def test_without_the_bridge_new_rows_follow_new_rows(english, jmdict):
    source_rows = english.model.word.embedding.weight.detach()
    config = tiny_config(lang="ja", char_input="romaji", new_rows="unknown")
    target, report = build(config, ja_sentences(), english, ["char", "word"])
    words = target.encoder.features["word"].vocabs["words"]
    rows = target.model.word.embedding.weight.detach()
    assert report.bridge is None and "今日" not in words
    assert all(torch.equal(rows[i], source_rows[1]) for i in range(words.inherited, len(words)))
    bigram_rows = target.model.char.embedding.weight.detach()
    first_new = len(english.encoder.features["char"].vocabs["bigrams"])
    assert torch.equal(bigram_rows[first_new:], bigram_rows[1].expand_as(bigram_rows[first_new:]))
    random = build(tiny_config(lang="ja", char_input="romaji"), ja_sentences(), english, ["char", "word"])[0]
    assert not torch.equal(random.model.word.embedding.weight[-1], source_rows[1])


def test_romaji_words_are_not_bridged(english, jmdict):
    config = tiny_config(lang="ja", word_input="romaji", char_input="romaji", word_bridge="jmdict")
    assert build(config, ja_sentences(), english, ["word"])[1].bridge is None


def test_the_vector_map_recovers_a_linear_relation():
    """jmdict+map: rows of words without glosses are their vectors' images under the fitted map."""
    rng = np.random.default_rng(0)
    source_dim, vector_dim, pairs = 6, 10, 80
    mapping = rng.normal(size=(vector_dim, source_dim))
    vectors = {f"w{i}": rng.normal(size=vector_dim) for i in range(pairs + 5)}
    # the source's rows are exact images of the pair words' vectors, so the map can be recovered
    source_words = [f"e{i}" for i in range(pairs)]
    embedding = torch.zeros(2 + pairs + len(vectors), source_dim)
    embedding[2 : 2 + pairs] = torch.from_numpy(np.stack([vectors[f"w{i}"] @ mapping for i in range(pairs)])).float()
    first_new = 2 + pairs
    target_words = ["<pad>", "<unk>", *source_words, *vectors]
    glosses = {f"w{i}": ((f"e{i}",),) for i in range(pairs)}  # w80..w84 have no glosses
    original = bridge.load_glosses
    bridge.load_glosses = lambda database=None: glosses
    try:
        table = lambda words, lemmas: np.stack([vectors[w] for w in words]).astype(np.float32)  # noqa: E731
        row = {w: i for i, w in enumerate(target_words) if i >= 2 and i < first_new}
        report = bridge_word_rows(
            "jmdict+map", embedding, target_words, first_new, row.get, {}, [1] * len(target_words), 0, table
        )
    finally:
        bridge.load_glosses = original
    assert report.by_dictionary == pairs and report.by_map == 5 and report.map_fit_pairs == pairs
    expected = torch.from_numpy(np.stack([vectors[f"w{i}"] @ mapping for i in range(pairs, pairs + 5)])).float()
    assert torch.allclose(embedding[-5:], expected, atol=0.15)  # ridge shrinks a little


def test_unknown_variant_is_an_error():
    with pytest.raises(EiwaError, match="word_bridge"):
        tiny_config(word_bridge="wordnet")
    with pytest.raises(EiwaError, match="new_rows"):
        tiny_config(new_rows="zeros")


@pytest.mark.skipif(importlib.util.find_spec("jamdict_data") is None, reason="jamdict-data is not installed")
def test_real_jmdict():
    glosses = load_glosses()
    assert len(glosses) > 300_000
    assert ("company",) in glosses["会社"] and ("Tokyo",) in glosses["東京"]
    assert "会社" in bridge.common_headwords() and len(bridge.common_headwords()) > 20_000
    added = headwords_to_add({"会社"}, lambda w: 2 if w == "company" else None, str)
    assert "会社" not in added and "株式会社" in added  # by its multi-word gloss 'stock company'
    assert "銀行" not in added
