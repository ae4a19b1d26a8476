"""The JMnedict gazetteer: longest-match tagging, the compiled cache, and the real dictionary."""

from __future__ import annotations

import importlib.util
import lzma
import random
import sqlite3
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from eiwa.errors import EiwaError
from eiwa.gazetteer import hashing, matcher
from eiwa.gazetteer.build import build_cache
from eiwa.gazetteer.matcher import TAGS, Gazetteer
from eiwa.gazetteer.names import DEFAULT_MAX_TOKENS, GROUPS, LICENCE, TYPE_GROUPS, english_name
from eiwa.resources.cache import cache_dir

G = {group: i for i, group in enumerate(GROUPS)}
T = {tag: i for i, tag in enumerate(TAGS)}


def column(gaz: Gazetteer, words, group: str, separator: str = "") -> str:
    """The tags of one group as a string, e.g. "BEO"."""
    return "".join(TAGS[t] for t in gaz.match(words, separator)[:, G[group]])


# ----------------------------------------------------------------------------- matching


def test_constants():
    assert TAGS == ("O", "B", "I", "E", "S")
    assert set(GROUPS) == {"person", "place", "organization", "product", "other"}
    assert set(TYPE_GROUPS.values()) <= set(GROUPS)
    assert TYPE_GROUPS["surname"] == "person" and TYPE_GROUPS["station"] == "place"
    assert TYPE_GROUPS["company"] == "organization" and TYPE_GROUPS["work"] == "product"


def test_longest_match_wins():
    gaz = Gazetteer.from_names({"東京": {"place"}, "東京都": {"place"}})
    assert column(gaz, ["東京", "都", "に"], "place") == "BEO"
    assert column(gaz, ["東京", "に"], "place") == "SO"
    assert column(gaz, ["に", "東京", "都"], "place") == "OBE"


def test_begin_inside_end_single():
    gaz = Gazetteer.from_names({"国際連合機関": {"organization"}, "国連": {"organization"}})
    tags = gaz.match(["国際", "連合", "機関", "と", "国連"])
    assert tags.dtype == np.int64 and tags.shape == (5, len(GROUPS))
    assert column(gaz, ["国際", "連合", "機関", "と", "国連"], "organization") == "BIEOS"
    assert not tags[:, [G[g] for g in GROUPS if g != "organization"]].any()


def test_groups_are_marked_independently_where_names_overlap():
    gaz = Gazetteer.from_names(
        [("田中角栄", "person"), ("田中", "place"), ("角栄", "other"), ("東京電力", "organization")]
    )
    words = ["田中", "角栄", "と", "東京", "電力"]
    assert column(gaz, words, "person") == "BEOOO"
    assert column(gaz, words, "place") == "SOOOO"
    assert column(gaz, words, "other") == "OSOOO"
    assert column(gaz, words, "organization") == "OOOBE"
    assert column(gaz, words, "product") == "OOOOO"


def test_a_name_in_several_groups_is_marked_in_each():
    gaz = Gazetteer.from_names([("東京", "place"), ("東京", "person")])
    assert gaz.groups_of("東京") == ("person", "place")
    tags = gaz.match(["東京", "へ"])
    assert tags[0, G["place"]] == T["S"] and tags[0, G["person"]] == T["S"]
    assert tags[0, G["organization"]] == T["O"] and not tags[1].any()


def test_scan_continues_after_a_match():
    # Left to right: 東京大阪 is taken, so 大阪京都 (overlapping it) is not; 京都 after it is.
    gaz = Gazetteer.from_names({"東京大阪": {"place"}, "大阪京都": {"place"}, "京都": {"place"}})
    assert column(gaz, ["東京", "大阪", "京都"], "place") == "BES"
    assert column(gaz, ["大阪", "京都", "東京"], "place") == "BEO"


def test_separator_joins_english_tokens():
    gaz = Gazetteer.from_names({"New York": {"place"}, "NewYork": {"organization"}})
    words = ["in", "New", "York", "today"]
    assert column(gaz, words, "place", separator=" ") == "OBEO"
    assert column(gaz, words, "organization", separator=" ") == "OOOO"
    assert column(gaz, words, "place") == "OOOO"
    assert column(gaz, words, "organization") == "OBEO"


def test_max_tokens_is_respected():
    names = {"大阪府立大学": {"organization"}}
    words = ["大阪", "府立", "大学"]
    assert column(Gazetteer.from_names(names, max_tokens=3), words, "organization") == "BIE"
    assert column(Gazetteer.from_names(names, max_tokens=2), words, "organization") == "OOO"
    gaz = Gazetteer.from_names(names)
    assert gaz.max_tokens == DEFAULT_MAX_TOKENS
    gaz.max_tokens = 2
    assert column(gaz, words, "organization") == "OOO"
    with pytest.raises(ValueError):
        Gazetteer.from_names(names, max_tokens=0)


def test_nfkc_on_both_sides():
    gaz = Gazetteer.from_names({"ＩＢＭ": {"organization"}, "ソニー": {"organization"}, "Ｊリーグ": {"other"}})
    assert column(gaz, ["IBM", "と", "ｿﾆｰ"], "organization") == "SOS"
    assert column(gaz, ["ＩＢＭ"], "organization") == "S"
    assert column(gaz, ["J", "リーグ"], "other") == "BE"
    assert column(gaz, ["ibm"], "organization") == "O"  # NFKC does not fold case
    assert gaz.groups_of("ＳＯＮＹ") == () and gaz.groups_of("ｿﾆｰ") == ("organization",)
    assert dict(gaz.names())["IBM"] == ("organization",)


def test_one_character_and_hiragana_only_names_are_dropped():
    gaz = Gazetteer.from_names(
        {
            "森": {"person"},
            "とうきょう": {"place"},
            "すごーい": {"other"},
            "トヨタ": {"organization"},
            "つくば市": {"place"},
            "ア": {"person"},
        }
    )
    assert len(gaz) == 2
    assert sorted(name for name, _ in gaz.names()) == ["つくば市", "トヨタ"]
    assert gaz.groups_of("森") == () and gaz.groups_of("とうきょう") == () and gaz.groups_of("すごーい") == ()
    assert not gaz.match(["森", "と", "うきょう", "とうきょう", "すご", "ーい"]).any()
    assert column(gaz, ["トヨタ", "つくば", "市"], "organization") == "SOO"
    assert column(gaz, ["トヨタ", "つくば", "市"], "place") == "OBE"


def test_unknown_group_is_rejected():
    with pytest.raises(ValueError, match="unknown gazetteer group"):
        Gazetteer.from_names([("東京", "city")])
    assert Gazetteer.from_names({"東京": "place"}).groups_of("東京") == ("place",)  # a bare string is one group


def test_empty_inputs():
    gaz = Gazetteer.from_names({"東京": {"place"}})
    assert gaz.match([]).shape == (0, len(GROUPS))
    assert not gaz.match(["", "東京", ""]).any(axis=0)[[G["person"], G["organization"]]].any()
    empty = Gazetteer.from_names({})
    assert len(empty) == 0 and not empty.match(["東京"]).any()


def test_empty_tokens_add_nothing_to_the_joined_text():
    # (The tokenizers never produce one; the specification still says what happens.)
    gaz = Gazetteer.from_names({"東京": {"place"}})
    assert column(gaz, ["東", "", "京"], "place") == "BIE"
    assert column(gaz, ["", "東京", "", "に"], "place") == "BIEO"  # the longest run: "" + 東京 + ""


def test_fingerprint_follows_content():
    a = Gazetteer.from_names({"東京": {"place"}, "田中": {"person"}})
    b = Gazetteer.from_names([("田中", "person"), ("東京", "place"), ("森", "place")])  # 森 is filtered out
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 16 and int(a.fingerprint(), 16) >= 0
    assert Gazetteer.from_names({"東京": {"place"}, "田中": {"place"}}).fingerprint() != a.fingerprint()
    assert (
        Gazetteer.from_names({"東京": {"place"}, "田中": {"person"}, "大阪": {"place"}}).fingerprint()
        != a.fingerprint()
    )
    # max_tokens is a matching setting, not content: a model records it separately
    assert Gazetteer.from_names({"東京": {"place"}, "田中": {"person"}}, max_tokens=2).fingerprint() == a.fingerprint()


def _reference_match(names: dict[str, set[str]], words, separator, max_tokens):
    """A direct implementation of match's specification, for comparison."""
    out = np.zeros((len(words), len(GROUPS)), dtype=np.int64)
    for g, group in enumerate(GROUPS):
        i = 0
        while i < len(words):
            best = 0
            for k in range(1, min(max_tokens, len(words) - i) + 1):
                if group in names.get(separator.join(words[i : i + k]), ()):
                    best = k
            if best == 0:
                i += 1
                continue
            if best == 1:
                out[i, g] = T["S"]
            else:
                out[i, g] = T["B"]
                out[i + 1 : i + best - 1, g] = T["I"]
                out[i + best - 1, g] = T["E"]
            i += best
    return out


@pytest.mark.parametrize("separator", ["", " "])
def test_match_agrees_with_a_direct_implementation(separator):
    rng = random.Random(7)
    alphabet = "東京大阪田中山川トヨタ"
    tokens = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))) for _ in range(40)]
    names: dict[str, set[str]] = {}
    for _ in range(300):
        name = separator.join(rng.choice(tokens) for _ in range(rng.randint(1, 4)))
        if len(name) >= 2:
            names.setdefault(name, set()).add(rng.choice(GROUPS))
    for max_tokens in (1, 3, 6):
        gaz = Gazetteer.from_names(names, max_tokens=max_tokens)
        for _ in range(60):
            words = [rng.choice(tokens) for _ in range(rng.randint(1, 25))]
            expected = _reference_match(names, words, separator, max_tokens)
            assert (gaz.match(words, separator) == expected).all(), (words, max_tokens)


def test_match_many_equals_match_sentence_by_sentence():
    rng = random.Random(11)
    tokens = ["東京", "都", "大阪", "府", "立", "大学", "の", "田中", "角栄", "IBM", ""]
    gaz = Gazetteer.from_names(
        {
            "東京都": {"place"},
            "東京": {"place", "person"},
            "大阪府立大学": {"organization"},
            "府立": {"other"},
            "田中角栄": {"person"},
            "田中": {"person", "place"},
            "都大阪": {"product"},
            "IBM": {"organization"},
        }
    )
    sentences = [[rng.choice(tokens) for _ in range(rng.randint(0, 12))] for _ in range(2 * matcher._CHUNK + 9)]
    many = gaz.match_many(iter(sentences))  # any iterable; chunks end mid-way through the list
    assert len(many) == len(sentences)
    for words, tags in zip(sentences, many):
        assert tags.shape == (len(words), len(GROUPS)) and tags.dtype == np.int64
        assert (tags == gaz.match(words)).all(), words
    assert sum(int(tags.any()) for tags in many) > len(sentences) // 2  # the check checks something
    assert gaz.match_many([]) == []


def test_long_texts_do_not_keep_long_power_tables(monkeypatch):
    monkeypatch.setattr(hashing._Powers, "KEEP", 2048)
    monkeypatch.setattr(hashing, "_POWERS", hashing._Powers())
    text = "東京大阪" * 1500
    starts = np.array([0, 10, 5990], dtype=np.int64)
    ends = starts + 4
    expected = hashing.name_keys(["東京大阪", "大阪東京", "大阪東京"])  # text[0:4], text[10:14], text[5990:5994]
    assert (hashing.span_keys(text, starts, ends) == expected).all()
    assert hashing._POWERS.powers.shape[1] == 1024


def test_span_keys_equal_name_keys_for_long_texts():
    rng = random.Random(3)
    text = "".join(rng.choice("あア東京𠮷ÉéZ") for _ in range(3000))  # longer than the first power tables
    spans = [(a, a + rng.randint(1, 40)) for a in (rng.randrange(0, 2900) for _ in range(200))]
    starts, ends = (np.array(x, dtype=np.int64) for x in zip(*spans))
    assert (hashing.span_keys(text, starts, ends) == hashing.name_keys([text[a:b] for a, b in spans])).all()
    distinct = {text[a:b] for a, b in spans}
    assert len(set(hashing.name_keys(sorted(distinct)).tolist())) == len(distinct)


def test_statistics():
    gaz = Gazetteer.from_names({"東京": {"place", "person"}, "田中角栄": {"person"}})
    stats = gaz.statistics([["東京", "の", "田中", "角栄"], ["は", "い"]])
    assert stats["sentences"] == 2 and stats["tokens"] == 6
    assert stats["share"]["person"] == pytest.approx(3 / 6)
    assert stats["share"]["place"] == pytest.approx(1 / 6)
    assert stats["share"]["organization"] == 0
    assert stats["share_any"] == pytest.approx(3 / 6)
    assert stats["matches"] == {"person": 2, "place": 1, "organization": 0, "product": 0, "other": 0}


# ----------------------------------------------------------------------------- the cache


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EIWA_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("EIWA_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "eiwa"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "eiwa"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "eiwa"


# The statements of jamdict-data 1.5's JMnedict tables (sqlite_master), which build_cache reads.
JMNEDICT_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE NEEntry (idseq INTEGER NOT NULL UNIQUE);
CREATE TABLE NEKanji (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT, FOREIGN KEY (idseq) REFERENCES Entry(idseq));
CREATE TABLE NEKana (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT, nokanji BOOLEAN,
                     FOREIGN KEY (idseq) REFERENCES Entry(idseq));
CREATE TABLE NETranslation (ID INTEGER PRIMARY KEY, idseq INTEGER, FOREIGN KEY (idseq) REFERENCES Entry(idseq));
CREATE TABLE NETransType (tid INTEGER, text TEXT, FOREIGN KEY (tid) REFERENCES NETranslation(id));
CREATE TABLE NETransXRef (tid INTEGER, text TEXT, FOREIGN KEY (tid) REFERENCES NETranslation(id));
CREATE TABLE NETransGloss (tid INTEGER, lang TEXT, gend TEXT, text TEXT,
                           FOREIGN KEY (tid) REFERENCES NETranslation(id));
CREATE INDEX NEKanji_idseq ON NEKanji(idseq);
CREATE INDEX NEKana_idseq ON NEKana(idseq);
CREATE INDEX NETranslation_idseq ON NETranslation(idseq);
CREATE INDEX NETransType_tid ON NETransType(tid);
"""

# (idseq, kanji spellings, kana spellings, [types of each translation])
FAKE_ENTRIES = [
    (1, ["東京"], ["とうきょう"], [["place", "surname"]]),
    (2, ["田中"], ["たなか"], [["surname"], ["place"]]),
    (3, [], ["トヨタ"], [["company"]]),
    (4, ["ＩＫＥＡ"], ["イケア"], [["company"]]),
    (5, ["森"], ["もり"], [["surname"]]),  # one character and hiragana: both dropped
    (6, ["東京駅"], ["とうきょうえき"], [["station"]]),
    (7, ["三銃士"], ["さんじゅうし"], [["work"]]),
    (8, ["立石寺"], ["りっしゃくじ"], [["unclass"]]),
    (9, ["謎名"], [], []),  # no type: "other"
    (10, ["宇宙船号"], [], [["ship"]]),  # a newer type: "product"
    (11, ["東京"], [], [["company"]]),  # a second entry for 東京: its groups are added
]


def make_fake_jmnedict(path: Path, entries=FAKE_ENTRIES) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(JMNEDICT_SCHEMA)
    connection.executemany(
        "INSERT INTO meta VALUES (?, ?)", [("jmnedict.version", "1.08"), ("jmnedict.date", "2020-05-29")]
    )
    tid = 0
    for idseq, kanji, kana, translations in entries:
        connection.execute("INSERT INTO NEEntry VALUES (?)", (idseq,))
        connection.executemany("INSERT INTO NEKanji (idseq, text) VALUES (?, ?)", [(idseq, k) for k in kanji])
        connection.executemany("INSERT INTO NEKana (idseq, text, nokanji) VALUES (?, ?, 0)", [(idseq, k) for k in kana])
        for translation in translations:
            # a translation is its types, or (types, its English glosses)
            types, glosses = (translation, ["gloss"]) if isinstance(translation, list) else translation
            tid += 1
            connection.execute("INSERT INTO NETranslation (ID, idseq) VALUES (?, ?)", (tid, idseq))
            connection.executemany("INSERT INTO NETransType VALUES (?, ?)", [(tid, t) for t in types])
            connection.executemany("INSERT INTO NETransGloss VALUES (?, 'eng', NULL, ?)", [(tid, g) for g in glosses])
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("EIWA_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def fake_db(tmp_path) -> Path:
    return make_fake_jmnedict(tmp_path / "jamdict.db")


def test_build_from_a_jamdict_database(cache, fake_db):
    lines: list[str] = []
    path = build_cache(database=fake_db, log=lines.append)
    assert path.parent == cache and path.is_file() and path.name.startswith("jmnedict-")
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary files left
    log = "\n".join(lines)
    assert "-> 10 names" in log and "dropped 6 hiragana-only and 1 one-character" in log
    assert "person" in log and "station 1" in log and "ship 1" in log

    gaz = Gazetteer.load(path)
    assert len(gaz) == 10
    assert gaz.groups_of("東京") == ("person", "place", "organization")
    assert gaz.groups_of("田中") == ("person", "place")
    assert gaz.groups_of("トヨタ") == ("organization",)
    assert gaz.groups_of("IKEA") == ("organization",) and gaz.groups_of("イケア") == ("organization",)
    assert gaz.groups_of("東京駅") == ("place",)
    assert gaz.groups_of("三銃士") == ("product",) and gaz.groups_of("宇宙船号") == ("product",)
    assert gaz.groups_of("立石寺") == ("other",) and gaz.groups_of("謎名") == ("other",)
    assert gaz.groups_of("森") == () and gaz.groups_of("とうきょう") == () and gaz.groups_of("もり") == ()
    assert column(gaz, ["東京", "駅", "で", "トヨタ"], "place") == "BEOO"
    assert column(gaz, ["東京", "駅", "で", "トヨタ"], "organization") == "SOOS"  # 東京 is also a company (entry 11)
    assert dict(gaz.names())["東京"] == ("person", "place", "organization")

    meta = gaz.meta
    assert meta["licence"] == LICENCE and meta["names"] == 10
    assert meta["group_counts"] == {"person": 2, "place": 3, "organization": 4, "product": 2, "other": 2}
    assert meta["type_counts"]["surname"] == 3 and meta["type_groups"]["ship"] == "product"
    assert meta["jmnedict"]["jmnedict.date"] == "2020-05-29"

    same = Gazetteer.from_names({name: set(groups) for name, groups in gaz.names()})
    assert same.fingerprint() == gaz.fingerprint()


ENGLISH_ENTRIES = [
    (1, ["東京"], [], [(["place"], ["Tokyo"])]),
    (2, ["鈴木"], [], [(["surname"], ["Suzuki"])]),
    (3, [], ["トヨタ自動車"], [(["company"], ["Toyota Motor Corporation", "Toyota"])]),
    (4, ["双葉山"], [], [(["person"], ["Futabayama Sadaji (sumo wrestler, 1912-1968)"])]),
    (5, ["大野"], [], [(["surname"], ["Ōno"]), (["place"], ["Ōno"])]),
    (
        6,
        ["謎"],
        [],
        [(["unclass"], ["a gloss that is not a name", "X", "Tokyo/Edo", "One Two Three Four Five Six Seven"])],
    ),
    (7, ["東京都"], [], [(["place"], ["Tokyo"])]),  # the same gloss again: one name
]


def test_english_names_are_cleaned_glosses():
    assert english_name("Futabayama Sadaji (sumo wrestler, 1912-1968)") == "Futabayama Sadaji"
    assert english_name("Ōno") == "Ono" and english_name("Shin'ai  Women's College") == "Shin'ai Women's College"
    assert english_name("tokyo") is None and english_name("X") is None
    assert english_name("Tokyo/Edo") is None and english_name("A B C D E F G") is None


def test_build_the_english_side(cache, tmp_path):
    database = make_fake_jmnedict(tmp_path / "english.db", ENGLISH_ENTRIES)
    lines: list[str] = []
    path = build_cache(database=database, language="en", log=lines.append)
    assert path.name.startswith("jmnedict-en-") and "-> 6 names" in "\n".join(lines)
    gaz = Gazetteer.load(path)
    assert gaz.meta["language"] == "en" and len(gaz) == 6
    assert gaz.groups_of("Tokyo") == ("place",) and gaz.groups_of("Ono") == ("person", "place")
    assert gaz.groups_of("Futabayama Sadaji") == ("person",) and gaz.groups_of("tokyo") == ()
    words = ["Toyota", "Motor", "Corporation", "of", "Tokyo"]
    assert column(gaz, words, "organization", " ") == "BIEOO" and column(gaz, words, "place", " ") == "OOOOS"
    # the Japanese cache of the same database is another file, and the default load finds each
    japanese = build_cache(database=database)
    assert japanese != path and Gazetteer.load(japanese).groups_of("東京") == ("place",)
    monkey = pytest.MonkeyPatch()
    monkey.setitem(sys.modules, "jamdict_data", None)  # no package: load falls back on the cache files
    try:
        assert Gazetteer.load(language="en")._table.path == path
        assert Gazetteer.load()._table.path == japanese
    finally:
        monkey.undo()
    with pytest.raises(EiwaError, match="no dictionary for language 'fr'"):
        build_cache(database=database, language="fr")


def test_build_is_skipped_when_present_unless_forced(cache, fake_db):
    path = build_cache(database=fake_db)
    stamp = path.stat().st_mtime_ns
    lines: list[str] = []
    assert build_cache(database=fake_db, log=lines.append) == path
    assert path.stat().st_mtime_ns == stamp and "exists" in lines[0]
    time.sleep(0.01)
    assert build_cache(database=fake_db, force=True) == path
    assert path.stat().st_mtime_ns != stamp


def test_an_interrupted_build_leaves_nothing(cache, fake_db, monkeypatch):
    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_cache(database=fake_db)
    assert list(cache.iterdir()) == []


def test_an_xz_compressed_database(cache, fake_db, tmp_path):
    packed = tmp_path / "packed" / "jamdict.db.xz"
    packed.parent.mkdir()
    packed.write_bytes(lzma.compress(fake_db.read_bytes()))
    from_packed = Gazetteer.load(build_cache(database=packed))
    from_plain = Gazetteer.load(build_cache(database=fake_db))
    assert from_packed.fingerprint() == from_plain.fingerprint()
    assert sorted(p.suffix for p in cache.iterdir()) == [".npz", ".npz"]  # the unpacked copy is gone


def test_jamdict_data_shipping_an_xz_database(cache, fake_db, tmp_path, monkeypatch):
    package = types.ModuleType("jamdict_data")
    package.__version__ = "9.9"
    package.JAMDICT_DB_PATH = str(tmp_path / "site" / "jamdict.db")  # absent: only the .xz is there
    monkeypatch.setitem(sys.modules, "jamdict_data", package)
    (tmp_path / "site").mkdir()
    with pytest.raises(EiwaError, match="has no database"):
        build_cache()
    (tmp_path / "site" / "jamdict.db.xz").write_bytes(lzma.compress(fake_db.read_bytes()))
    lines: list[str] = []
    path = build_cache(log=lines.append)
    assert path == cache / f"jmnedict-9.9.f{hashing.FORMAT}.npz"
    assert any("unpacked jamdict.db.xz" in line for line in lines)
    gaz = Gazetteer.load()
    assert gaz.meta["source"] == "jamdict-data 9.9" and gaz.groups_of("トヨタ") == ("organization",)
    assert [p.name for p in cache.iterdir()] == [path.name]


def test_load_is_cached_per_process(cache, fake_db):
    path = build_cache(database=fake_db)
    first, second = Gazetteer.load(path), Gazetteer.load(path, max_tokens=2)
    assert first._table is second._table and (first.max_tokens, second.max_tokens) == (6, 2)
    assert not first._table.keys.flags.writeable


def test_without_jamdict_data(cache, fake_db, monkeypatch):
    monkeypatch.setitem(sys.modules, "jamdict_data", None)  # import jamdict_data now raises ImportError
    with pytest.raises(EiwaError, match=r"jamdict-data: pip install 'eiwa\[gazetteer\]'"):
        build_cache()
    with pytest.raises(EiwaError, match="JMnedict needs the package jamdict-data"):
        Gazetteer.load()
    built = build_cache(database=fake_db)
    assert Gazetteer.load()._table.path == built  # an existing cache is used


def test_a_cache_that_cannot_be_written_is_compiled_into_memory(fake_db, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("EIWA_CACHE_DIR", str(blocked / "cache"))  # under a file: cannot be made
    package = types.ModuleType("jamdict_data")
    package.__version__, package.JAMDICT_DB_PATH = "9.9", str(fake_db)
    monkeypatch.setitem(sys.modules, "jamdict_data", package)
    monkeypatch.setattr(matcher, "_LOADED", {})
    with pytest.raises(EiwaError, match="cannot create the cache directory"):
        build_cache()
    lines: list[str] = []
    gaz = Gazetteer.load(log=lines.append)
    assert gaz.groups_of("トヨタ") == ("organization",) and gaz.meta["source"] == "jamdict-data 9.9"
    assert any("into memory" in line for line in lines)
    assert Gazetteer.load()._table is gaz._table  # once per process
    assert blocked.read_text() == ""
    monkeypatch.setenv("EIWA_CACHE_DIR", str(tmp_path / "writable"))
    assert Gazetteer.load(build_cache()).fingerprint() == gaz.fingerprint()  # the same table as a cache file


def test_damaged_or_missing_cache_files(cache, tmp_path):
    with pytest.raises(EiwaError, match="no such cache file"):
        Gazetteer.load(tmp_path / "absent.npz")
    (tmp_path / "loop.npz").symlink_to("loop.npz")
    with pytest.raises(EiwaError, match="loop.npz: cannot read the cache file: it is a symbolic link loop"):
        Gazetteer.load(tmp_path / "loop.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a zip file")
    with pytest.raises(EiwaError, match="rebuild it"):
        Gazetteer.load(damaged)
    damaged.write_bytes(b"PK\x03\x04" + bytes(100))  # the start of a zip archive, then nothing
    with pytest.raises(EiwaError, match="rebuild it"):
        Gazetteer.load(damaged)
    archive = tmp_path / "other.npz"
    np.savez(archive, keys=np.zeros(1, np.uint64))  # an npz, but not a gazetteer
    with pytest.raises(EiwaError, match="rebuild it"):
        Gazetteer.load(archive)
    with pytest.raises(EiwaError, match="no such database"):
        build_cache(database=tmp_path / "absent.db")


# ----------------------------------------------------------------------------- the real JMnedict


@pytest.mark.skipif(importlib.util.find_spec("jamdict_data") is None, reason="jamdict-data is not installed")
def test_real_jmnedict(cache):
    started = time.perf_counter()
    lines: list[str] = []
    path = build_cache(log=lines.append)  # about 10-20 s
    built = time.perf_counter() - started
    gaz = Gazetteer.load(path)
    assert len(gaz) > 500_000, lines
    assert "place" in gaz.groups_of("東京")
    assert "person" in gaz.groups_of("田中")
    english = Gazetteer.load(build_cache(language="en"))
    assert len(english) > 300_000
    assert "place" in english.groups_of("Tokyo") and "person" in english.groups_of("Suzuki")
    assert "organization" in english.groups_of("Sony") and english.groups_of("tokyo") == ()
    assert "organization" in gaz.groups_of("トヨタ")
    assert gaz.groups_of("の") == () and gaz.groups_of("たなか") == ()
    counts = gaz.meta["group_counts"]
    assert counts["person"] > 200_000 and counts["place"] > 200_000 and counts["organization"] > 5_000
    assert column(gaz, ["東京", "都", "の", "田中", "さん", "が", "トヨタ", "に"], "organization") == "OOOOOOSO"
    assert Gazetteer.load().fingerprint() == gaz.fingerprint()
    print(f"built in {built:.1f} s: {path.stat().st_size / 1e6:.1f} MB, {len(gaz):,} names, {gaz.fingerprint()}")


def test_cli_builds_both_sides_or_one(cache, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from eiwa.cli import cli

    database = make_fake_jmnedict(tmp_path / "jamdict.db", ENGLISH_ENTRIES)
    package = types.ModuleType("jamdict_data")
    package.__version__ = "9.9"
    package.JAMDICT_DB_PATH = str(database)
    monkeypatch.setitem(sys.modules, "jamdict_data", package)
    runner = CliRunner()
    result = runner.invoke(cli, ["gazetteer", "build", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in cache.iterdir()) == [f"jmnedict-en-9.9.f{hashing.FORMAT}.npz"]
    result = runner.invoke(cli, ["gazetteer", "build"])
    assert result.exit_code == 0, result.output
    assert "compiled dictionary (ja)" in result.output and "compiled dictionary (en)" in result.output
    assert sorted(p.name for p in cache.iterdir()) == [
        f"jmnedict-9.9.f{hashing.FORMAT}.npz",
        f"jmnedict-en-9.9.f{hashing.FORMAT}.npz",
    ]
