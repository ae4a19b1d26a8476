"""The chiVe vector table: reading a spaCy vocab folder, lookup order, saving with a model, errors."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from eiwa.errors import EiwaError, ModelError
from eiwa.resources import chive as vectors_module
from eiwa.resources.chive import INSTALL_HINT, LICENCE, VectorTable

# Row -> keys of the tiny vocab; row 5 has no key and must be dropped.
TINY_KEYS = {
    0: ["東京", "とうきょう"],
    1: ["コンピューター"],
    2: ["為る", "トウキョウ"],
    3: ["akb", "e-mail"],
    4: ["NHK", "行く"],
    6: ["e"],
}
N_ROWS = 7


def tiny_data() -> np.ndarray:
    return np.arange(N_ROWS * 3, dtype=np.float32).reshape(N_ROWS, 3) / 4


@pytest.fixture
def vocab_folder(tmp_path):
    pytest.importorskip("spacy", reason="spaCy is needed to write a spaCy vocab folder")
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    strings = StringStore()
    strings.add("ない")  # a string without a vector: must not become a key
    table = Vectors(strings=strings, data=tiny_data())
    for row, keys in TINY_KEYS.items():
        for key in keys:
            table.add(strings.add(key), row=row)  # Vectors.add hashes a str but does not store it
    folder = tmp_path / "vocab"
    table.to_disk(folder)  # writes vectors, key2row, vectors.cfg and strings.json
    return folder


@pytest.fixture
def tiny(vocab_folder) -> VectorTable:
    return VectorTable.from_spacy_vocab(vocab_folder)


def vector_of(table: VectorTable, key: str) -> np.ndarray:
    return table.rows[table.keys[key]]


def test_from_spacy_vocab_keeps_keys_with_rows_and_drops_unused_rows(tiny, vocab_folder):
    assert set(tiny.keys) == {k for keys in TINY_KEYS.values() for k in keys}
    assert "ない" not in tiny.keys
    assert tiny.rows.dtype == np.float16 and tiny.rows.shape == (N_ROWS - 1, 3) and tiny.dim == 3
    data = tiny_data()
    for row, keys in TINY_KEYS.items():
        for key in keys:  # each key still has its own vector after row 5 is dropped
            np.testing.assert_array_equal(vector_of(tiny, key), data[row].astype(np.float16))
    assert tiny.keys["東京"] == tiny.keys["とうきょう"] != tiny.keys["コンピューター"]
    assert tiny.source == str(vocab_folder)


def test_lookup_tries_surface_then_lemma_then_normalised(tiny):
    k = tiny.keys
    cases = [
        ("東京", "トウキョウ", k["東京"]),  # the surface wins over the lemma
        ("行っ", "行く", k["行く"]),  # the lemma when the surface is unknown
        ("コンピュータ", "コンピューター-computer", k["コンピューター"]),  # loanword gloss cut off
        ("イーメール", "e-mail", k["e-mail"]),  # an ASCII lemma is not cut at its "-"
        ("ＮＨＫ", "為る", k["為る"]),  # the lemma wins over the normalised surface
        ("ＮＨＫ", None, k["NHK"]),  # NFKC, case kept
        ("ＡＫＢ", "*", k["akb"]),  # NFKC and lowercase
        ("AKB", None, k["akb"]),
        ("ないない", None, -1),
        ("ないない", "コンピュータ-computer", -1),
    ]
    rows = tiny.lookup([c[0] for c in cases], [c[1] for c in cases])
    assert rows.dtype == np.int64
    assert rows.tolist() == [c[2] for c in cases]
    assert tiny.lookup([], []).shape == (0,)
    with pytest.raises(ValueError):
        tiny.lookup(["東京"], [])


def test_coverage_counts_each_attempt(tiny):
    surfaces = ["東京", "行っ", "ＡＫＢ", "ＡＫＢ", "ないない"]
    lemmas = [None, "行く", None, None, None]
    assert tiny.coverage(surfaces, lemmas) == {
        "tokens": 5,
        "found": 4,
        "share": 0.8,
        "by_surface": 1,
        "by_lemma": 1,
        "by_normalised": 2,
    }
    assert tiny.coverage([], [])["share"] == 0.0


def test_json_round_trip_gives_the_same_table(tiny):
    saved = json.loads(json.dumps(tiny.to_json()))
    assert "rows" not in saved and saved["dim"] == 3 and len(saved["keys"]) == len(tiny.keys)
    again = VectorTable.from_json(saved, np.array(tiny.rows))
    assert again.keys == tiny.keys
    assert again.fingerprint() == tiny.fingerprint()
    assert len(tiny.fingerprint()) == 16
    surfaces, lemmas = ["東京", "行っ", "ＡＫＢ", "x"], [None, "行く", None, None]
    assert again.lookup(surfaces, lemmas).tolist() == tiny.lookup(surfaces, lemmas).tolist()
    # The layout is canonical: a table built in another key order saves the same JSON.
    shuffled = VectorTable(dict(reversed(list(tiny.keys.items()))), tiny.rows, tiny.source)
    assert shuffled.to_json() == tiny.to_json()


def test_fingerprint_tells_tables_apart(tiny):
    rows = np.array(tiny.rows)
    rows[0, 0] += 1
    assert VectorTable(tiny.keys, rows, "x").fingerprint() != tiny.fingerprint()
    moved = dict(tiny.keys, e=0)
    assert VectorTable(moved, tiny.rows, "x").fingerprint() != tiny.fingerprint()


def test_from_json_rejects_rows_that_do_not_match(tiny):
    saved = tiny.to_json()
    with pytest.raises(ModelError, match="does not fit"):
        VectorTable.from_json(saved, np.array(tiny.rows[:-1]))
    other = np.array(tiny.rows)
    other[1, 1] = -7
    with pytest.raises(ModelError, match="fingerprint"):
        VectorTable.from_json(saved, other)
    with pytest.raises(ModelError):
        VectorTable.from_json({"keys": []}, other)


def test_missing_file_is_named(vocab_folder):
    (vocab_folder / "key2row").unlink()
    with pytest.raises(EiwaError) as error:
        VectorTable.from_spacy_vocab(vocab_folder)
    assert str(vocab_folder) in str(error.value) and "'key2row'" in str(error.value)


def test_load_caches_per_folder_and_rejects_non_folders(vocab_folder, tmp_path):
    first = VectorTable.load(str(vocab_folder))
    assert VectorTable.load(vocab_folder / ".." / "vocab") is first
    with pytest.raises(EiwaError, match="not a folder"):
        VectorTable.load(str(tmp_path / "nowhere"))


def test_missing_spacy_gives_the_install_hint(tmp_path, monkeypatch):
    for name in ("vectors", "key2row", "strings.json"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setitem(sys.modules, "spacy.vectors", None)  # makes the import fail
    with pytest.raises(EiwaError) as error:
        VectorTable.from_spacy_vocab(tmp_path)
    assert INSTALL_HINT in str(error.value)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EiwaError, match="need spaCy and ja-ginza"):
        vectors_module._chive_folder()


def test_damaged_folder_is_one_error(vocab_folder):
    pytest.importorskip("spacy")
    (vocab_folder / "key2row").write_bytes(b"\xc1 not msgpack")
    with pytest.raises(EiwaError, match="cannot read"):
        VectorTable.from_spacy_vocab(vocab_folder)


def test_real_chive_table():
    pytest.importorskip("spacy", reason="the chiVe vectors need spaCy")
    pytest.importorskip("ja_ginza", reason="the chiVe vectors come from the ja-ginza package")
    table = VectorTable.load("chive")
    assert VectorTable.load() is table
    assert table.source == "chive" and "Apache-2.0" in LICENCE
    assert table.rows.shape == (20_000, 300) and table.dim == 300
    assert len(table.keys) == 480_443
    rows = table.lookup(["東京", "日本", "銀行", "した", "ｑｚｘｑｚｘ"], [None, None, None, "為る", None])
    assert (rows[:4] >= 0).all() and rows[4] == -1
    assert len(set(rows[:3].tolist())) == 3
    assert np.isfinite(table.rows.astype(np.float32)).all()
