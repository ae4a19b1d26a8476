"""Pretrained Japanese word vectors (chiVe) as a token feature.

The vectors are chiVe (Works Applications, Apache-2.0), read from the ``vocab/`` folder of the
PyPI package ``ja-ginza``, which ships them pruned to 20,000 distinct 300-dimensional rows shared
by 480,443 keys (Sudachi normalised forms). ONLY that ``vocab/`` folder is used: ja-ginza's
trained pipeline components come from differently licensed data (UD Japanese-BCCWJ, CC BY-NC-SA;
GSK2014-A, a commercial licence) and are never loaded.

A spaCy vocab folder is plain files, read here with numpy and without spaCy: ``vectors`` is a
numpy ``.npy`` matrix, ``key2row`` a msgpack map from 64-bit key to row, ``vectors.cfg`` JSON.
spaCy's key of a string is MurmurHash64A of its UTF-8 bytes with seed 1 (:func:`string_keys`
computes it for many strings at once), except for the strings of spaCy's fixed symbol table,
whose key is their symbol number (``SPACY_SYMBOLS``). So the table never holds strings: it keeps
the sorted keys, each key's row and the distinct rows (float16), and finds a token by hashing it.
A saved model keeps the same three arrays (key index and rows) in its weights.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eiwa.errors import EiwaError, ModelError
from eiwa.persist.files import read_bytes, read_text, readable_file

LICENCE = "chiVe vectors (Works Applications), Apache-2.0, via the ja-ginza package's vocab/ folder"
INSTALL_HINT = "pip install 'eiwa[vectors]'"
KEY_HASH = "murmurhash64a-seed1"  # spaCy's string hash: how the saved key index was made

_FILES = ("vectors", "key2row")
_MISSING = f"vectors: the chiVe vectors need the package ja-ginza: {INSTALL_HINT}"

# spaCy stores the vector of a string of its symbol table under the symbol's number instead of its
# hash (spacy/symbols.pyx, fixed across spaCy 3). These are the ones chiVe's keys use.
SPACY_SYMBOLS = {
    "ID": 64, "POS": 74, "DEP": 76, "ADP": 85, "ADV": 86, "X": 101, "ORG": 383, "LOC": 385, "agent": 401,
    "attr": 404, "aux": 405, "cc": 407, "det": 415, "nn": 427, "obj": 434, "poss": 440, "prep": 443, "root": 449,
}  # fmt: skip

_M = np.uint64(0xC6A4A7935BD1E995)
_R = np.uint64(47)
_BYTE_SHIFTS = np.arange(8, dtype=np.uint64) * np.uint64(8)

# How a token was found: the codes of VectorTable.find's second array.
NOT_FOUND, BY_SURFACE, BY_LEMMA, BY_NORMALISED = range(4)


def string_keys(strings: Sequence[str]) -> np.ndarray:
    """spaCy's 64-bit key of each string (uint64): MurmurHash64A of its UTF-8 bytes, seed 1.

    Vectorised over the strings: one pass of numpy operations per 8-byte block of the longest.
    """
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    data = np.frombuffer(b"".join(encoded) + bytes(8), dtype=np.uint8)
    starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    blocks = lengths // 8
    hashes = np.uint64(1) ^ (lengths.astype(np.uint64) * _M)
    for block in range(int(blocks.max(initial=0))):
        at = np.flatnonzero(blocks > block)
        k = _words(data, starts[at] + 8 * block) * _M
        k = (k ^ (k >> _R)) * _M
        hashes[at] = (hashes[at] ^ k) * _M
    tails = (lengths & 7).astype(np.uint64)
    at = np.flatnonzero(tails)
    tail = _words(data, starts[at] + 8 * blocks[at]) & ((np.uint64(1) << (tails[at] * np.uint64(8))) - np.uint64(1))
    hashes[at] = (hashes[at] ^ tail) * _M
    hashes ^= hashes >> _R
    hashes *= _M
    hashes ^= hashes >> _R
    return hashes


def _words(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The little-endian uint64 of the 8 bytes at each offset of ``data``."""
    chunk = data[offsets[:, None] + np.arange(8)].astype(np.uint64)
    return np.bitwise_or.reduce(chunk << _BYTE_SHIFTS, axis=1) if len(offsets) else np.zeros(0, dtype=np.uint64)


def _lemma_form(lemma: str | None) -> str | None:
    """The lookup form of a UniDic lemma: "コンピューター-computer" -> "コンピューター"."""
    if not lemma or lemma == "*":
        return None
    head, dash, tail = lemma.partition("-")
    # Only a non-ASCII head with an ASCII tail is a loanword gloss; "e-mail" stays whole.
    if dash and tail and tail.isascii() and head and not head.isascii():
        return head
    return lemma


@functools.lru_cache(maxsize=200_000)
def _normalised(surface: str) -> tuple[str, str]:
    # chiVe keys are Sudachi normalised forms: half-width ASCII, mostly lowercase ("akb", but "NHK").
    normal = unicodedata.normalize("NFKC", surface)
    return normal, normal.lower()


class VectorTable:
    """A key -> row index over a matrix of distinct rows (float16): ``keys`` (sorted spaCy string
    keys, uint64), ``key_rows`` (the row of each key, int32) and ``rows``."""

    def __init__(self, keys: np.ndarray, key_rows: np.ndarray, rows: np.ndarray, source: str):
        # Read-only views: load() shares one table between all callers; the caller's arrays stay as they were.
        self.keys = np.asarray(keys, dtype=np.uint64).view()
        self.key_rows = np.asarray(key_rows, dtype=np.int32).view()
        self.rows = np.asarray(rows, dtype=np.float16).view()
        for array in (self.keys, self.key_rows, self.rows):
            array.flags.writeable = False
        self.source = source
        self._fingerprint: str | None = None

    @classmethod
    def from_strings(cls, keys: dict[str, int], rows: np.ndarray, source: str) -> VectorTable:
        """The table of ``{string: row}``."""
        strings = list(keys)
        hashed = string_keys(strings)
        order = np.argsort(hashed, kind="stable")
        key_rows = np.fromiter((keys[s] for s in strings), dtype=np.int32, count=len(strings))
        return cls(hashed[order], key_rows[order], rows, source)

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"VectorTable({self.source!r}, {len(self.keys)} keys, {self.rows.shape[0]}x{self.dim})"

    # ------------------------------------------------------------------ reading

    @classmethod
    def from_spacy_vocab(cls, folder: str | Path) -> VectorTable:
        """The vectors of a spaCy vocab folder (``vectors``, ``key2row``; ``vectors.cfg`` if there)."""
        folder = Path(folder)
        for name in _FILES:
            if not (folder / name).is_file():
                raise EiwaError(f"vectors: {folder} has no '{name}' file (a spaCy vocab folder needs vectors, key2row)")
        settings = folder / "vectors.cfg"
        try:
            mode = json.loads(read_text(settings)).get("mode", "default") if os.path.lexists(settings) else "default"
        except (ValueError, AttributeError) as exc:
            raise EiwaError(f"vectors: cannot read {folder / 'vectors.cfg'}: {exc}") from None
        if mode != "default":
            raise EiwaError(f"vectors: {folder} holds {mode} vectors; only a key -> row table can be used")
        try:
            data = np.load(readable_file(folder / "vectors"), mmap_mode="r", allow_pickle=False)
            keys, key_rows = _read_uint_map(read_bytes(folder / "key2row"))
        except (OSError, ValueError, EOFError) as exc:
            raise EiwaError(f"vectors: cannot read the spaCy vectors in {folder}: {exc}") from None
        if data.ndim != 2:
            raise EiwaError(f"vectors: {folder / 'vectors'} is not a matrix (shape {data.shape})")
        keys = _symbols_as_hashes(keys)
        usable = (keys != 0) & (key_rows >= 0) & (key_rows < len(data))
        keys, key_rows = keys[usable], key_rows[usable]
        if not len(keys):
            raise EiwaError(f"vectors: {folder} has no key with a row")
        # Keep only rows that some key points to, renumbered in their original order.
        used, key_rows = np.unique(key_rows, return_inverse=True)
        order = np.argsort(keys, kind="stable")
        rows = np.asarray(data[used], dtype=np.float16)
        return cls(keys[order], key_rows[order], rows, str(folder))

    @classmethod
    def load(cls, source: str = "chive") -> VectorTable:
        """ "chive" (the installed ja-ginza's vocab folder) or a vocab folder path; cached per process."""
        return _load(source if source == "chive" else str(Path(source).expanduser().resolve()))

    # ------------------------------------------------------------------ saving with a model

    def to_json(self) -> dict:
        """What vocab.json keeps of the table; the arrays (keys, key_rows, rows) go with the weights."""
        return {
            "source": self.source,
            "dim": self.dim,
            "n_rows": len(self.rows),
            "n_keys": len(self.keys),
            "key_hash": KEY_HASH,
            "fingerprint": self.fingerprint(),
        }

    @classmethod
    def from_saved(
        cls,
        data: dict,
        rows: np.ndarray,
        keys: np.ndarray | None = None,
        key_rows: np.ndarray | None = None,
        check: bool = True,
    ) -> VectorTable:
        """The table a model saved: ``to_json``'s record and the arrays kept with the weights, or (older
        models) the key strings in the record. Arrays from the weights are checked for
        their shapes only (the weights file's checksum covers their content), so that loading reads
        none of them; key strings are checked against the record's fingerprint unless ``check`` is
        False (the rows were fine-tuned)."""
        rows = np.asarray(rows)
        if "keys" in data and keys is None:
            return cls._from_string_index(data, rows, check)
        try:
            shape_ok = rows.ndim == 2 and rows.shape == (int(data["n_rows"]), int(data["dim"]))
            index_ok = keys is not None and key_rows is not None and len(keys) == len(key_rows) == int(data["n_keys"])
            hash_ok = data.get("key_hash") == KEY_HASH
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"vectors: the saved key index is damaged ({exc!r})") from None
        if not hash_ok:
            raise ModelError(f"vectors: the saved key index was made by {data.get('key_hash')!r}, not {KEY_HASH}")
        if not (shape_ok and index_ok):
            raise ModelError(f"vectors: the saved key index does not fit the saved {rows.shape} rows")
        table = cls(np.asarray(keys).view(np.uint64), key_rows, rows, str(data.get("source", "saved")))
        table._fingerprint = data.get("fingerprint")
        return table

    @classmethod
    def _from_string_index(cls, data: dict, rows: np.ndarray, check: bool) -> VectorTable:
        """The key strings in row order with ``counts[i]`` keys on row ``i`` (older models)."""
        try:
            keys, counts = list(data["keys"]), [int(c) for c in data["counts"]]
            shape_ok = rows.ndim == 2 and rows.shape == (int(data["n_rows"]), int(data["dim"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"vectors: the saved key index is damaged ({exc!r})") from None
        if not shape_ok or len(counts) != len(rows) or sum(counts) != len(keys) or min(counts, default=0) < 0:
            raise ModelError(f"vectors: the saved key index does not fit the saved {rows.shape} rows")
        if check and data.get("fingerprint") not in (None, _string_fingerprint(keys, counts, rows)):
            raise ModelError("vectors: the saved rows do not match the saved key index (fingerprint differs)")
        row_of = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        hashed = string_keys(keys)
        order = np.argsort(hashed, kind="stable")
        return cls(hashed[order], row_of[order], rows, str(data.get("source", "saved")))

    def fingerprint(self) -> str:
        """A short sha256 over keys, their rows and the row values: equal tables, equal fingerprints."""
        if self._fingerprint is None:
            digest = hashlib.sha256(KEY_HASH.encode())
            digest.update(self.keys.astype("<u8", copy=False).tobytes())
            digest.update(self.key_rows.astype("<i4", copy=False).tobytes())
            digest.update(repr(tuple(self.rows.shape)).encode())
            digest.update(np.ascontiguousarray(self.rows, dtype="<f2").tobytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    # ------------------------------------------------------------------ lookup

    def rows_of(self, strings: Sequence[str]) -> np.ndarray:
        """The row of each string (int64), -1 where it is not a key."""
        found = np.full(len(strings), -1, dtype=np.int64)
        if not len(strings) or not len(self.keys):
            return found
        wanted = string_keys(strings)
        at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        hit = self.keys[at] == wanted
        found[hit] = self.key_rows[at[hit]]
        return found

    def find(self, surfaces: Sequence[str], lemmas: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """(row of each token or -1, how it was found: ``BY_SURFACE``, ``BY_LEMMA``, ``BY_NORMALISED``
        or ``NOT_FOUND``): the surface, then the lemma, then the NFKC surface, then that lowercased.

        Only tokens still unfound go on to the next attempt."""
        if len(surfaces) != len(lemmas):
            raise ValueError(f"lookup: {len(surfaces)} surfaces but {len(lemmas)} lemmas")
        rows = self.rows_of(surfaces)
        how = np.where(rows >= 0, BY_SURFACE, NOT_FOUND)
        attempts = (
            (BY_LEMMA, lambda i: _lemma_form(lemmas[i])),
            (BY_NORMALISED, lambda i: _normalised(surfaces[i])[0]),
            (BY_NORMALISED, lambda i: _normalised(surfaces[i])[1]),
        )
        for code, form_of in attempts:
            missing = np.flatnonzero(rows < 0).tolist()
            forms = [form_of(i) for i in missing]
            tried = np.array([i for i, form in zip(missing, forms) if form is not None], dtype=np.int64)
            if not tried.size:
                continue
            found = self.rows_of([form for form in forms if form is not None])
            rows[tried] = found
            how[tried[found >= 0]] = code
        return rows, how

    def lookup(self, surfaces: Sequence[str], lemmas: Sequence[str | None]) -> np.ndarray:
        """The row of each token (int64), -1 where none: surface, then lemma, then NFKC/lowercase."""
        return self.find(surfaces, lemmas)[0]

    def coverage(self, surfaces: Sequence[str], lemmas: Sequence[str | None]) -> dict:
        """How many tokens have a row, and by which of the three attempts."""
        how = np.bincount(self.find(surfaces, lemmas)[1], minlength=4)
        n = len(surfaces)
        found = n - int(how[NOT_FOUND])
        return {
            "tokens": n,
            "found": found,
            "share": found / n if n else 0.0,
            "by_surface": int(how[BY_SURFACE]),
            "by_lemma": int(how[BY_LEMMA]),
            "by_normalised": int(how[BY_NORMALISED]),
        }


def _string_fingerprint(keys: list[str], counts: list[int], rows: np.ndarray) -> str:
    """The fingerprint that older models saved with their key strings."""
    digest = hashlib.sha256()
    digest.update("\n".join(keys).encode("utf-8"))
    digest.update(np.asarray(counts, dtype="<i8").tobytes())
    digest.update(repr(tuple(rows.shape)).encode())
    digest.update(np.ascontiguousarray(rows, dtype="<f2").tobytes())
    return digest.hexdigest()[:16]


def _symbols_as_hashes(keys: np.ndarray) -> np.ndarray:
    """Keys with spaCy's symbol numbers replaced by their strings' hashes (0: an unknown symbol)."""
    symbolic = np.flatnonzero(keys < np.uint64(1 << 32))  # a real hash is this small with p = 2**-32
    if not symbolic.size:
        return keys
    name_of = {number: name for name, number in SPACY_SYMBOLS.items()}
    names = [name_of.get(int(k)) for k in keys[symbolic]]
    hashed = string_keys([name or "" for name in names])
    keys = keys.copy()
    keys[symbolic] = np.where([name is not None for name in names], hashed, np.uint64(0))
    return keys


# One msgpack unsigned integer: positive fixint, or uint8/16/32/64 (head byte, then big-endian bytes).
_UINT = rb"(?:[\x00-\x7f]|\xcc.|\xcd.{2}|\xce.{4}|\xcf.{8})"
_UINT_PAIR = re.compile(_UINT + _UINT, re.DOTALL)
_UINT_WIDTHS = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}


def _read_uint_map(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A msgpack map of unsigned integers to unsigned integers (spaCy's key2row) as two arrays.

    The regular expression cuts the map into its key-value pairs in C; numpy decodes them."""
    if not data:
        raise ValueError("empty file")
    head = data[0]
    if 0x80 <= head <= 0x8F:
        count, at = head & 0x0F, 1
    elif head in (0xDE, 0xDF):
        width = 2 if head == 0xDE else 4
        count, at = int.from_bytes(data[1 : 1 + width], "big"), 1 + width
    else:
        raise ValueError(f"not a msgpack map (first byte {head:#04x})")
    pairs = _UINT_PAIR.findall(data, at)
    lengths = np.fromiter(map(len, pairs), dtype=np.int64, count=len(pairs))
    if len(pairs) != count or at + int(lengths.sum()) != len(data):
        raise ValueError(f"not a map of {count:,} pairs of unsigned integers")
    del pairs
    buffer = np.frombuffer(data + bytes(8), dtype=np.uint8)
    starts = at + np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)
    keys, widths = _uints(buffer, starts)
    values, _ = _uints(buffer, starts + widths)
    return keys, values.astype(np.int64)


def _uints(buffer: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The msgpack unsigned integers at ``offsets`` (uint64) and their encoded widths."""
    heads = buffer[offsets]
    values = heads.astype(np.uint64)
    widths = np.ones(len(offsets), dtype=np.int64)
    for head, size in _UINT_WIDTHS.items():
        at = np.flatnonzero(heads == head)
        chunk = buffer[offsets[at, None] + 1 + np.arange(size)].astype(np.uint64)
        shifts = np.arange(size - 1, -1, -1, dtype=np.uint64) * np.uint64(8)
        values[at] = np.bitwise_or.reduce(chunk << shifts, axis=1) if at.size else 0
        widths[at] = 1 + size
    return values, widths


def _chive_folder() -> Path:
    """The vocab folder of the installed ja-ginza, found without importing it (its __init__ loads spaCy)."""
    spec = importlib.util.find_spec("ja_ginza")
    if spec is None or not spec.submodule_search_locations:
        raise EiwaError(_MISSING)
    for location in spec.submodule_search_locations:
        found = sorted(p for p in Path(location).glob("ja_ginza-*/vocab") if p.is_dir())
        if found:
            return found[-1]
    raise EiwaError(f"vectors: the installed ja-ginza has no ja_ginza-*/vocab folder; reinstall it: {INSTALL_HINT}")


@functools.cache
def _load(source: str) -> VectorTable:
    # Cached: cross-validation asks for the same table once per fold.
    if source == "chive":
        table = VectorTable.from_spacy_vocab(_chive_folder())
        table.source = "chive"
        return table
    if not Path(source).is_dir():
        raise EiwaError(f"vectors: {source} is not a folder (give 'chive' or a spaCy vocab folder)")
    return VectorTable.from_spacy_vocab(source)
