"""The chiVe vector table: reading a spaCy vocab folder without spaCy, spaCy's string keys, lookup
order, saving with a model (this format and the older one), errors."""

from __future__ import annotations

import importlib.util
import json
import random

import numpy as np
import pytest

from eiwa.errors import EiwaError, ModelError
from eiwa.resources import chive as vectors_module
from eiwa.resources.chive import INSTALL_HINT, LICENCE, SPACY_SYMBOLS, VectorTable, _string_fingerprint, string_keys

# Row -> keys of the tiny vocab; row 5 has no key and must be dropped.
TINY_KEYS = {
    0: ["東京", "とうきょう"],
    1: ["コンピューター"],
    2: ["為る", "トウキョウ"],
    3: ["akb", "e-mail"],
    4: ["NHK", "行く"],
    6: ["e", "ORG"],  # ORG: one of spaCy's symbols, stored under its symbol number
}
N_ROWS = 7
KEYS = {key: row for row, keys in TINY_KEYS.items() for key in keys}

# MurmurHash64A, seed 1, of these strings, as spaCy's hash_string gives them (spaCy 3.8).
KNOWN_KEYS = {"": 14313749767032693980, "東京": 9360021637096476946, "a": 11901859001352538922}


def tiny_data() -> np.ndarray:
    return np.arange(N_ROWS * 3, dtype=np.float32).reshape(N_ROWS, 3) / 4


def msgpack_map(pairs: dict[int, int]) -> bytes:
    """A msgpack map of unsigned integers, as srsly writes spaCy's key2row (minimal widths)."""

    def uint(value: int) -> bytes:
        if value < 0x80:
            return bytes([value])
        for head, width in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
            if value < 1 << (8 * width):
                return bytes([head]) + value.to_bytes(width, "big")
        raise ValueError(value)

    return b"\xdf" + len(pairs).to_bytes(4, "big") + b"".join(uint(k) + uint(v) for k, v in pairs.items())


def spacy_key(key: str) -> int:
    return SPACY_SYMBOLS.get(key) or int(string_keys([key])[0])


@pytest.fixture
def vocab_folder(tmp_path):
    """A spaCy vocab folder as spaCy writes it (vectors, key2row, vectors.cfg, strings.json)."""
    folder = tmp_path / "vocab"
    folder.mkdir()
    with open(folder / "vectors", "wb") as out:
        np.save(out, tiny_data())
    (folder / "key2row").write_bytes(msgpack_map({spacy_key(k): row for k, row in KEYS.items()}))
    (folder / "vectors.cfg").write_text('{"mode": "default"}')
    (folder / "strings.json").write_text(json.dumps([*KEYS, "ない"]))  # not read
    return folder


@pytest.fixture
def tiny(vocab_folder) -> VectorTable:
    return VectorTable.from_spacy_vocab(vocab_folder)


def test_string_keys_are_spacys():
    assert string_keys(list(KNOWN_KEYS)).tolist() == list(KNOWN_KEYS.values())
    spacy_strings = pytest.importorskip("spacy.strings", reason="spaCy checks the keys against its own")
    rng = random.Random(1)
    alphabet = "abcAB東京日本語ーｱ😀é\u0301 -\u3000"
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    assert string_keys(strings).tolist() == [spacy_strings.hash_string(s) for s in strings]
    symbols = pytest.importorskip("spacy.symbols")
    assert all(symbols.IDS[name] == number for name, number in SPACY_SYMBOLS.items())


def test_from_spacy_vocab_keeps_keys_with_rows_and_drops_unused_rows(tiny, vocab_folder):
    assert len(tiny) == len(KEYS)
    assert tiny.rows.dtype == np.float16 and tiny.rows.shape == (N_ROWS - 1, 3) and tiny.dim == 3
    data = tiny_data()
    found = tiny.rows_of(list(KEYS))
    # each key still has its own vector after row 5 is dropped; ORG too, through its symbol number
    np.testing.assert_array_equal(tiny.rows[found], data[list(KEYS.values())].astype(np.float16))
    assert found[0] == found[1] != found[2]
    assert tiny.rows_of(["ない", ""]).tolist() == [-1, -1]
    assert tiny.source == str(vocab_folder)


def test_a_folder_written_by_spacy_reads_the_same(tiny, tmp_path):
    pytest.importorskip("spacy", reason="spaCy writes the folder")
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    strings = StringStore()
    table = Vectors(strings=strings, data=tiny_data())
    for key, row in KEYS.items():
        table.add(strings.add(key), row=row)
    table.to_disk(tmp_path / "spacy")
    again = VectorTable.from_spacy_vocab(tmp_path / "spacy")
    assert again.fingerprint() == tiny.fingerprint()


def test_lookup_tries_surface_then_lemma_then_normalised(tiny):
    row = dict(zip(KEYS, tiny.rows_of(list(KEYS)).tolist()))
    cases = [
        ("東京", "トウキョウ", row["東京"]),  # the surface wins over the lemma
        ("行っ", "行く", row["行く"]),  # the lemma when the surface is unknown
        ("コンピュータ", "コンピューター-computer", row["コンピューター"]),  # loanword gloss cut off
        ("イーメール", "e-mail", row["e-mail"]),  # an ASCII lemma is not cut at its "-"
        ("ＮＨＫ", "為る", row["為る"]),  # the lemma wins over the normalised surface
        ("ＮＨＫ", None, row["NHK"]),  # NFKC, case kept
        ("ＡＫＢ", "*", row["akb"]),  # NFKC and lowercase
        ("AKB", None, row["akb"]),
        ("ないない", None, -1),
        ("ないない", "コンピュータ-computer", -1),
        ("", "", -1),
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


def test_saved_table_round_trip(tiny):
    saved = json.loads(json.dumps(tiny.to_json()))
    assert set(saved) == {"source", "dim", "n_rows", "n_keys", "key_hash", "fingerprint"}
    keys = tiny.keys.view(np.int64).copy()  # as the model's int64 buffer holds them
    again = VectorTable.from_saved(saved, np.array(tiny.rows), keys, tiny.key_rows.copy())
    assert again.fingerprint() == tiny.fingerprint() and len(tiny.fingerprint()) == 16
    surfaces, lemmas = ["東京", "行っ", "ＡＫＢ", "x"], [None, "行く", None, None]
    assert again.lookup(surfaces, lemmas).tolist() == tiny.lookup(surfaces, lemmas).tolist()
    # Tables built from the same strings in another order are the same table.
    shuffled = VectorTable.from_strings(dict(reversed(list(KEYS.items()))), tiny_data(), "x")
    assert shuffled.fingerprint() == VectorTable.from_strings(KEYS, tiny_data(), "y").fingerprint()


def test_older_models_key_strings_still_load(tiny):
    """Older models saved the key strings in row order, `counts[i]` on row i, with a fingerprint over them."""
    by_row = sorted(KEYS, key=lambda k: (KEYS[k], k))
    data = tiny_data()[[0, 1, 2, 3, 4, 6]].astype(np.float16)
    counts = [sum(KEYS[k] == row for k in KEYS) for row in (0, 1, 2, 3, 4, 6)]
    saved = {"source": "chive", "dim": 3, "n_rows": 6, "keys": by_row, "counts": counts}
    saved["fingerprint"] = _string_fingerprint(by_row, counts, data)
    old = VectorTable.from_saved(saved, data)
    assert old.fingerprint() == tiny.fingerprint()
    data[1, 1] = -7
    with pytest.raises(ModelError, match="fingerprint"):
        VectorTable.from_saved(saved, data)
    assert len(VectorTable.from_saved(saved, data, check=False)) == len(KEYS)  # fine-tuned rows


def test_fingerprint_tells_tables_apart(tiny):
    rows = np.array(tiny.rows)
    rows[0, 0] += 1
    assert VectorTable(tiny.keys, tiny.key_rows, rows, "x").fingerprint() != tiny.fingerprint()
    moved = np.array(tiny.key_rows)
    moved[0] = 5 - moved[0]
    assert VectorTable(tiny.keys, moved, tiny.rows, "x").fingerprint() != tiny.fingerprint()


def test_from_saved_rejects_arrays_that_do_not_match(tiny):
    saved, keys, key_rows = tiny.to_json(), np.array(tiny.keys), np.array(tiny.key_rows)
    with pytest.raises(ModelError, match="does not fit"):
        VectorTable.from_saved(saved, np.array(tiny.rows[:-1]), keys, key_rows)
    with pytest.raises(ModelError, match="does not fit"):
        VectorTable.from_saved(saved, np.array(tiny.rows), keys[:-1], key_rows[:-1])
    other = np.array(tiny.rows)
    with pytest.raises(ModelError, match="murmurhash"):
        VectorTable.from_saved({**saved, "key_hash": "other"}, other, keys, key_rows)
    with pytest.raises(ModelError):
        VectorTable.from_saved({"n_keys": 3}, other, keys, key_rows)


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


def test_missing_ja_ginza_gives_the_install_hint(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EiwaError, match="need the package ja-ginza") as error:
        vectors_module._chive_folder()
    assert INSTALL_HINT in str(error.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("key2row", b"\xc1 not msgpack", "cannot read"),
        ("key2row", b"\xdf\x00\x00\x00\x02\xcf\x00", "cannot read"),  # ends inside the map
        ("key2row", b"", "cannot read"),
        ("vectors", b"not numpy", "cannot read"),
        ("vectors.cfg", b'{"mode": "floret"}', "floret vectors"),
    ],
)
def test_damaged_folder_is_one_error(vocab_folder, name, content, message):
    (vocab_folder / name).write_bytes(content)
    with pytest.raises(EiwaError, match=message):
        VectorTable.from_spacy_vocab(vocab_folder)


def test_real_chive_table():
    pytest.importorskip("ja_ginza", reason="the chiVe vectors come from the ja-ginza package")
    table = VectorTable.load("chive")
    assert VectorTable.load() is table
    assert table.source == "chive" and "Apache-2.0" in LICENCE
    assert table.rows.shape == (20_000, 300) and table.dim == 300
    assert len(table) == 480_443
    rows = table.lookup(["東京", "日本", "銀行", "した", "ｑｚｘｑｚｘ", "ORG"], [None, None, None, "為る", None, None])
    assert (rows[:4] >= 0).all() and rows[4] == -1 and rows[5] >= 0
    assert len(set(rows[:3].tolist())) == 3
    assert np.isfinite(table.rows.astype(np.float32)).all()
