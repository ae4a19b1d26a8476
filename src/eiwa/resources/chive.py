"""Pretrained Japanese word vectors (chiVe) as a token feature.

The vectors are chiVe (Works Applications, Apache-2.0), read from the ``vocab/``
folder of the PyPI package ``ja-ginza``, which ships them pruned to 20,000
distinct 300-dimensional rows shared by about 480,000 keys (Sudachi normalised
forms). ONLY that ``vocab/`` folder is used: ja-ginza's trained pipeline
components come from differently licensed data (UD Japanese-BCCWJ, CC BY-NC-SA;
GSK2014-A, a commercial licence) and are never loaded.

spaCy is imported only while reading a vocab folder, so the rest of eiwa works
without it; a saved model keeps its own copy of the key index (``to_json``) and
of the rows.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eiwa.errors import EiwaError, ModelError

LICENCE = "chiVe vectors (Works Applications), Apache-2.0, via the ja-ginza package's vocab/ folder"
INSTALL_HINT = "pip install 'eiwa[vectors]'"

_FILES = ("vectors", "key2row", "strings.json")
_LOOKUP_CACHE = 1_000_000
_MISSING = f"vectors: the chiVe vectors need spaCy and ja-ginza: {INSTALL_HINT}"


def _lemma_form(lemma: str | None) -> str | None:
    """The lookup form of a UniDic lemma: "コンピューター-computer" -> "コンピューター"."""
    if not lemma or lemma == "*":
        return None
    head, dash, tail = lemma.partition("-")
    # Only a non-ASCII head with an ASCII tail is a loanword gloss; "e-mail" stays whole.
    if dash and tail and tail.isascii() and head and not head.isascii():
        return head
    return lemma


class VectorTable:
    """A key -> row index over a matrix of distinct rows (float16)."""

    def __init__(self, keys: dict[str, int], rows: np.ndarray, source: str):
        self.keys = keys
        self.rows = np.ascontiguousarray(rows, dtype=np.float16)
        self.rows.flags.writeable = False  # load() shares one table between all callers
        self.source = source
        self._fingerprint: str | None = None
        self._json: dict | None = None  # the table never changes: its key index is built once
        # Per instance, so that the cache does not keep every table alive.
        self._find = functools.lru_cache(maxsize=_LOOKUP_CACHE)(self._find_uncached)

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    def __repr__(self) -> str:
        return f"VectorTable({self.source!r}, {len(self.keys)} keys, {self.rows.shape[0]}x{self.dim})"

    # ------------------------------------------------------------------ reading

    @classmethod
    def from_spacy_vocab(cls, folder: str | Path) -> VectorTable:
        """The vectors of a spaCy vocab folder (``vectors``, ``key2row``, ``strings.json``)."""
        folder = Path(folder)
        for name in _FILES:
            if not (folder / name).is_file():
                needs = ", ".join(_FILES)
                raise EiwaError(f"vectors: {folder} has no '{name}' file (a spaCy vocab folder needs {needs})")
        try:
            from spacy.strings import StringStore
            from spacy.vectors import Vectors
        except ImportError:
            raise EiwaError(_MISSING) from None
        try:
            # spaCy's own readers, so the hash -> row map is exactly spaCy's; strings.json is read once.
            vectors = Vectors().from_disk(folder, exclude=["strings"])
            strings = StringStore().from_disk(folder / "strings.json")
        except Exception as exc:  # msgpack, numpy and json errors all mean a damaged folder
            raise EiwaError(f"vectors: cannot read the spaCy vectors in {folder}: {exc}") from None
        if vectors.mode != "default":
            raise EiwaError(f"vectors: {folder} holds {vectors.mode} vectors; only a key -> row table can be used")
        data = np.asarray(vectors.data)
        keys = {strings[h]: int(r) for h, r in vectors.key2row.items() if h in strings and 0 <= r < len(data)}
        if not keys:
            raise EiwaError(f"vectors: {folder} has no key with both a string and a row")
        # Keep only rows that some key points to, renumbered in their original order.
        used = np.unique(np.fromiter(keys.values(), dtype=np.int64, count=len(keys)))
        if len(used) < len(data):
            new_index = {int(old): new for new, old in enumerate(used)}
            keys = {k: new_index[r] for k, r in keys.items()}
            data = data[used]
        return cls(keys, data.reshape(len(used), -1), str(folder))

    @classmethod
    def load(cls, source: str = "chive") -> VectorTable:
        """ "chive" (the installed ja-ginza's vocab folder) or a vocab folder path; cached per process."""
        return _load(source if source == "chive" else str(Path(source).expanduser().resolve()))

    # ------------------------------------------------------------------ saving with a model

    def _layout(self) -> tuple[list[str], list[int]]:
        # Canonical: keys grouped by row, sorted within a row, and the number of keys of each row.
        by_row: list[list[str]] = [[] for _ in range(len(self.rows))]
        for key in sorted(self.keys):
            by_row[self.keys[key]].append(key)
        return [key for keys in by_row for key in keys], [len(keys) for keys in by_row]

    def to_json(self) -> dict:
        """The key index (not the rows): ``keys`` in row order, ``counts[i]`` keys on row ``i``."""
        if self._json is None:
            keys, counts = self._layout()
            self._fingerprint = self._fingerprint or _fingerprint(keys, counts, self.rows)
            self._json = {
                "source": self.source,
                "dim": self.dim,
                "n_rows": len(self.rows),
                "fingerprint": self._fingerprint,
                "keys": keys,
                "counts": counts,
            }
        return self._json

    @classmethod
    def from_json(cls, data: dict, rows: np.ndarray, check: bool = True) -> VectorTable:
        """The table saved by ``to_json``, over the ``rows`` saved beside it. ``check=False``: the
        rows were fine-tuned, so only their shape can be checked against the key index."""
        rows = np.asarray(rows)
        try:
            keys, counts = list(data["keys"]), [int(c) for c in data["counts"]]
            shape_ok = rows.ndim == 2 and rows.shape == (int(data["n_rows"]), int(data["dim"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"vectors: the saved key index is damaged ({exc!r})") from None
        if not shape_ok or len(counts) != len(rows) or sum(counts) != len(keys) or min(counts, default=0) < 0:
            raise ModelError(f"vectors: the saved key index does not fit the saved {rows.shape} rows")
        fingerprint = _fingerprint(keys, counts, rows) if check else data.get("fingerprint")
        if check and data.get("fingerprint") not in (None, fingerprint):
            raise ModelError("vectors: the saved rows do not match the saved key index (fingerprint differs)")
        row_of = np.repeat(np.arange(len(counts)), counts).tolist()
        table = cls(dict(zip(keys, row_of)), rows, str(data.get("source", "saved")))
        table._fingerprint = fingerprint
        return table

    def fingerprint(self) -> str:
        """A short sha256 over keys, their rows and the row values: equal tables, equal fingerprints."""
        if self._fingerprint is None:
            self._fingerprint = _fingerprint(*self._layout(), self.rows)
        return self._fingerprint

    # ------------------------------------------------------------------ lookup

    def _find_uncached(self, surface: str, lemma: str | None) -> tuple[int, str | None]:
        keys = self.keys
        row = keys.get(surface)
        if row is not None:
            return row, "by_surface"
        form = _lemma_form(lemma)
        if form is not None and (row := keys.get(form)) is not None:
            return row, "by_lemma"
        # chiVe keys are Sudachi normalised forms: half-width ASCII, mostly lowercase ("akb", but "NHK").
        normal = unicodedata.normalize("NFKC", surface)
        for form in (normal, normal.lower()):
            if (row := keys.get(form)) is not None:
                return row, "by_normalised"
        return -1, None

    def lookup(self, surfaces: Sequence[str], lemmas: Sequence[str | None]) -> np.ndarray:
        """The row of each token (int64), -1 where none: surface, then lemma, then NFKC/lowercase."""
        if len(surfaces) != len(lemmas):
            raise ValueError(f"lookup: {len(surfaces)} surfaces but {len(lemmas)} lemmas")
        find = self._find
        return np.fromiter(
            (find(s, lemma)[0] for s, lemma in zip(surfaces, lemmas)), dtype=np.int64, count=len(surfaces)
        )

    def coverage(self, surfaces: Sequence[str], lemmas: Sequence[str | None]) -> dict:
        """How many tokens have a row, and by which of the three attempts."""
        if len(surfaces) != len(lemmas):
            raise ValueError(f"coverage: {len(surfaces)} surfaces but {len(lemmas)} lemmas")
        how = Counter(self._find(s, lemma)[1] for s, lemma in zip(surfaces, lemmas))
        n = len(surfaces)
        found = n - how[None]
        return {
            "tokens": n,
            "found": found,
            "share": found / n if n else 0.0,
            "by_surface": how["by_surface"],
            "by_lemma": how["by_lemma"],
            "by_normalised": how["by_normalised"],
        }


def _fingerprint(keys: list[str], counts: list[int], rows: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update("\n".join(keys).encode("utf-8"))
    digest.update(np.asarray(counts, dtype="<i8").tobytes())
    digest.update(repr(tuple(rows.shape)).encode())
    digest.update(np.ascontiguousarray(rows, dtype="<f2").tobytes())
    return digest.hexdigest()[:16]


def _chive_folder() -> Path:
    """The vocab folder of the installed ja-ginza, found without importing it (its __init__ loads spaCy)."""
    spec = importlib.util.find_spec("ja_ginza")
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("spacy") is None:
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
