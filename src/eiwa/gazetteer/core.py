"""Gazetteer token features from JMnedict: does a token begin, continue or end a dictionary name?

The dictionary is JMnedict, the EDRDG's dictionary of Japanese proper names, as packaged in the
SQLite database of the PyPI package ``jamdict-data`` (an optional extra: ``INSTALL_HINT``).
:func:`build_cache` compiles it once into a small numpy archive in :func:`cache_dir`;
:meth:`Gazetteer.load` reads that archive (once per process) and :meth:`Gazetteer.match` tags the
tokens of a sentence with ``TAGS`` per type group in ``GROUPS``.

Type groups (counts are NETransType rows in jamdict-data 1.5, JMnedict of 2020-05-29; a name gets
the groups of all its entries' types, see ``TYPE_GROUPS``):

``person``        surname 146,634, fem 109,214, given 61,653, person 53,455, masc 19,989,
                  character 4, deity 3
``place``         place 228,281, station 8,252
``organization``  organization 4,733, company 1,054 (and ``group`` of newer JMnedict releases)
``product``       work 908, product 547, service 8 (railway lines, Amazon Prime...)
``other``         unclass 131,083 (mostly names of people and places whose kind JMnedict does not
                  record), fiction 3, event 2, mythology 1, object 1, religion 1, entries without a
                  type, and any type this module does not know

What is stored (noise control): every kanji and kana spelling of every entry, NFKC-normalised,
except names of one character (単, 森, ア: mostly ordinary words) and names written only in hiragana
(optionally with the long-vowel mark ー): these are the readings of kanji names, and as text they
collide with particles and other function words (の, かな, はる...). Katakana names (トヨタ,
ソニー) and names containing kanji or Latin letters are kept. :meth:`Gazetteer.from_names` applies
the same normalisation and filters, so that tests see what real data gets. Matching is
case-sensitive after NFKC (ＩＢＭ matches IBM, not ibm).

A name that is in several groups (東京: place and surname) is stored once with a bitmask of its
groups (bit ``i`` is ``GROUPS[i]``); :meth:`Gazetteer.match` marks each group independently, so
東京 is tagged S in both ``person`` and ``place``.

English side (``language="en"``, issue 10): the same types, keyed by the entries' English glosses
(NETransGloss), so that an English source model reads the same feature on English tokens and hands
its module to a Japanese one. JMnedict glosses most entries with a romanised or English form of
the same type ("Tokyo" place, "Suzuki" surname, "Toyota" company, "London" place). A gloss is kept
after removing parenthesised remarks ("Sokokurai Eikichi (sumo wrestler ...)") and diacritics
(Sōkokurai -> Sokokurai) when it starts with a capital letter, holds only Latin letters, digits,
spaces and . ' & -, and has at most ``DEFAULT_MAX_TOKENS`` words; it is matched on tokens joined
with spaces, case-sensitively. Its cache is ``jmnedict-en-<version>.f<FORMAT>.npz``.

Lookup structure: no strings are kept in memory. Each name is reduced to a 64-bit key, two
polynomial hashes of its code points modulo two primes just below 2**32 (:func:`_name_keys`), and
the keys are kept sorted in a numpy array beside a ``uint8`` array of group bitmasks and a 1 MB
Bloom bitset (:class:`_Table`): about 11 bytes per name, 7 MB of memory for JMnedict's 623,486
names, where a Python dict of them (name -> int) takes 89 MB and 1.8 s to fill. The polynomial
hash makes the keys of all token spans of a sentence (every start, up to ``max_tokens`` tokens,
within the length range of the stored names) computable at once from prefix sums
(:func:`_span_keys`), so a sentence costs a fixed number of numpy operations plus one (cached)
NFKC call per token: no per-character Python work, and no Python loop over spans.
:meth:`Gazetteer.match_many` pays that fixed cost once per chunk of sentences, which makes it
several times faster than ``match`` in a loop. Two different strings of length L get the same key
with probability about (L / 2**32)**2 (a fixed pair of bases, non-adversarial text): for a
30-character span against 623,486 names that is about 3e-11 per lookup; a false match would be
a spurious feature, nothing worse.

The cache file is ``cache_dir()/jmnedict-<jamdict-data version>.f<FORMAT>.npz``, a compressed numpy
``.npz`` without pickles (read with ``allow_pickle=False``) holding ``keys``, ``masks``, ``meta``
(JSON: source, licence, groups, type counts, hash parameters) and ``names_tsv`` (the names and
their groups as UTF-8 TSV, for inspection: :meth:`Gazetteer.names`; never read by matching).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import lzma
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from eiwa.errors import EiwaError

LICENCE = "JMnedict (EDRDG, CC BY-SA 4.0), via the jamdict-data package"
INSTALL_HINT = "pip install 'eiwa[gazetteer]'"

LANGUAGES = ("ja", "en")  # the spellings a cache holds: Japanese (kanji, kana) or English glosses
GROUPS: tuple[str, ...] = ("person", "place", "organization", "product", "other")
TAGS = ("O", "B", "I", "E", "S")
O, B, I, E, S = range(len(TAGS))

# JMnedict name types (as jamdict spells them, plus the short entity names of newer JMnedict
# releases) -> group. A type not listed here goes to "other".
TYPE_GROUPS: dict[str, str] = {
    "surname": "person",
    "given": "person",
    "fem": "person",
    "masc": "person",
    "person": "person",
    "character": "person",
    "char": "person",
    "deity": "person",
    "dei": "person",
    "place": "place",
    "station": "place",
    "organization": "organization",
    "company": "organization",
    "group": "organization",
    "product": "product",
    "work": "product",
    "service": "product",
    "serv": "product",
    "doc": "product",
    "ship": "product",
    "unclass": "other",
    "fiction": "other",
    "fict": "other",
    "event": "other",
    "ev": "other",
    "mythology": "other",
    "myth": "other",
    "object": "other",
    "obj": "other",
    "religion": "other",
    "relig": "other",
    "creat": "other",
    "leg": "other",
    "oth": "other",
}

DEFAULT_MAX_TOKENS = 6
_CHUNK = 256  # sentences that match_many tags at once
FORMAT = 1  # of the cache file; part of its name, so that another format is simply rebuilt

_GROUP_BIT = {group: 1 << i for i, group in enumerate(GROUPS)}
_OTHER_BIT = _GROUP_BIT["other"]
_GROUPS_OF_MASK = tuple(tuple(g for g in range(len(GROUPS)) if mask >> g & 1) for mask in range(256))
# the hiragana block, plus ー (すごーい): a name made only of these is dropped (str.strip is the fast test)
_HIRAGANA_CHARACTERS = "".join(map(chr, range(0x3041, 0x30A0))) + "\u30fc"

# Two polynomial hashes modulo primes below 2**32: a product of two residues fits in uint64.
_P1, _P2 = 4294967291, 4294967279
_B1, _B2 = 911382323, 972663749
_HASH = {"p1": _P1, "p2": _P2, "b1": _B1, "b2": _B2}

def _log_nothing(line: str) -> None:
    pass


# ----------------------------------------------------------------------------- names and keys


@functools.lru_cache(maxsize=200_000)
def _nfkc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _keep(name: str) -> bool:
    """The noise filter (see the module docstring): at least two characters, not hiragana only.

    (Names with a tab or a line break, which JMnedict has none of, would break ``names_tsv``.)
    """
    return len(name) >= 2 and name.strip(_HIRAGANA_CHARACTERS) != "" and "\t" not in name and "\n" not in name


_PRIMES = np.array([[_P1], [_P2]], dtype=np.uint64)  # column: broadcasts over the (2, n) arrays below


class _Powers:
    """B**i and B**-i modulo P for both hashes (rows), grown by doubling as longer texts come."""

    KEEP = 1 << 17  # longer tables (a text of more characters) are made for the call and dropped

    def __init__(self, size: int = 1024):
        self._lock = threading.Lock()
        one = np.ones((2, 1), dtype=np.uint64)
        self.powers, self.inverses = self._grow(one, one, size)  # (2, size): B**i and B**-i

    def get(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        powers, inverses = self.powers, self.inverses
        if powers.shape[1] >= size:
            return powers, inverses
        if size > self.KEEP:
            return self._grow(powers, inverses, size)
        with self._lock:
            self.powers, self.inverses = self._grow(self.powers, self.inverses, size)
            return self.powers, self.inverses

    @staticmethod
    def _grow(powers: np.ndarray, inverses: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        while powers.shape[1] < size:
            n = powers.shape[1]  # row r of the new half: row r of the old times B_r**n
            step = np.array([[pow(_B1, n, _P1)], [pow(_B2, n, _P2)]], dtype=np.uint64)
            inverse_step = np.array([[pow(_B1, -n, _P1)], [pow(_B2, -n, _P2)]], dtype=np.uint64)
            powers = np.concatenate([powers, powers * step % _PRIMES], axis=1)
            inverses = np.concatenate([inverses, inverses * inverse_step % _PRIMES], axis=1)
        return powers, inverses


_POWERS = _Powers()


def _codes(text: str) -> np.ndarray:
    """Code points of ``text`` plus one (so that no character hashes as zero), as uint64."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64) + np.uint64(1)


def _combine(hashes: np.ndarray) -> np.ndarray:
    return (hashes[0] << np.uint64(32)) | hashes[1]


def _name_keys(names: Sequence[str]) -> np.ndarray:
    """The key of each name: sum(c[i] * B**i) mod P for both (B, P), c the code points plus one.

    Residues are below 2**32, so a product of two fits in uint64, and so does a sum of fewer
    than 2**32 of them.
    """
    if not names:
        return np.zeros(0, dtype=np.uint64)
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    if lengths.min() < 1:
        raise ValueError("empty name")
    starts = np.zeros(len(names), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    codes = _codes("".join(names))
    local = np.arange(len(codes), dtype=np.int64) - np.repeat(starts, lengths)
    powers, _ = _POWERS.get(int(lengths.max()))
    return _combine(np.add.reduceat(codes * powers[:, local] % _PRIMES, starts, axis=1) % _PRIMES)


def _span_keys(text: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The keys of text[starts[k]:ends[k]] for all k, equal to ``_name_keys`` of those strings.

    With prefix sums C[j] = sum(c[i] * B**i for i < j), the key of [a, b) is (C[b] - C[a]) * B**-a.
    """
    codes = _codes(text)
    n = len(codes)
    powers, inverses = _POWERS.get(n + 1)
    prefix = np.zeros((2, n + 1), dtype=np.uint64)
    np.cumsum(codes * powers[:, :n] % _PRIMES, axis=1, out=prefix[:, 1:])
    prefix %= _PRIMES
    return _combine((prefix[:, ends] + _PRIMES - prefix[:, starts]) % _PRIMES * inverses[:, starts] % _PRIMES)


def _compile(names: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys and their group bitmasks (bitmasks of colliding keys are or-ed)."""
    ordered = sorted(names)
    keys = _name_keys(ordered)
    masks = np.fromiter((names[name] for name in ordered), dtype=np.uint8, count=len(ordered))
    unique, inverse = np.unique(keys, return_inverse=True)
    merged = np.zeros(len(unique), dtype=np.uint8)
    np.bitwise_or.at(merged, inverse, masks)
    return unique, merged


def _groups_of_mask(mask: int) -> tuple[str, ...]:
    return tuple(group for group, bit in _GROUP_BIT.items() if mask & bit)


def _names_tsv(names: Mapping[str, int]) -> str:
    labels = {mask: ",".join(_groups_of_mask(mask)) for mask in set(names.values())}
    return "".join(f"{name}\t{labels[names[name]]}\n" for name in sorted(names))


# ----------------------------------------------------------------------------- the cache


def cache_dir() -> Path:
    """``$EIWA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/eiwa``, else ``~/.cache/eiwa``."""
    explicit = os.environ.get("EIWA_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is to be ignored
        return Path(xdg) / "eiwa"
    return Path.home() / ".cache" / "eiwa"


def _cache_path(version: str, language: str = "ja") -> Path:
    prefix = "jmnedict-" if language == "ja" else f"jmnedict-{language}-"
    return cache_dir() / f"{prefix}{version}.f{FORMAT}.npz"


def _cached_files(language: str) -> list[Path]:
    """Existing cache files of ``language``, newest first."""
    found = cache_dir().glob(_cache_path("*", language).name)
    if language == "ja":  # jmnedict-*.npz also matches the other languages' files
        found = (p for p in found if not any(p.name.startswith(f"jmnedict-{other}-") for other in LANGUAGES))
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise EiwaError(f"gazetteer: no dictionary for language {language!r}; there are: {', '.join(LANGUAGES)}")


def _missing_package() -> EiwaError:
    return EiwaError(f"gazetteer: JMnedict needs the package jamdict-data: {INSTALL_HINT}")


def _source(database: Path | None) -> tuple[Path, str]:
    """The database to compile (``.db`` or ``.db.xz``) and the version that names its cache."""
    if database is not None:
        database = Path(database).resolve()
        if not database.is_file():
            raise EiwaError(f"gazetteer: {database}: no such database")
        stat = database.stat()
        digest = hashlib.sha256(f"{database}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
        return database, f"db-{digest[:12]}"
    try:
        import jamdict_data
    except ImportError:
        raise _missing_package() from None
    plain = Path(jamdict_data.JAMDICT_DB_PATH)
    version = str(getattr(jamdict_data, "__version__", "unknown"))
    for candidate in (plain, plain.with_name(plain.name + ".xz")):
        if candidate.is_file():
            return candidate, version
    raise EiwaError(
        f"gazetteer: the package jamdict-data {version} has no database at {plain}(.xz); reinstall it: {INSTALL_HINT}"
    )


@contextlib.contextmanager
def _connect(database: Path, scratch: Path, log: Callable[[str], None]) -> Iterator[sqlite3.Connection]:
    """A read-only connection; an xz-compressed database is first unpacked into ``scratch`` (and removed after)."""
    unpacked = None
    try:
        if database.suffix == ".xz":
            started = time.perf_counter()
            fd, name = tempfile.mkstemp(dir=scratch, prefix="jamdict-", suffix=".db.tmp")
            unpacked = Path(name)
            with os.fdopen(fd, "wb") as out, lzma.open(database) as packed:
                shutil.copyfileobj(packed, out, length=1 << 20)
            log(f"gazetteer: unpacked {database.name} in {time.perf_counter() - started:.1f} s")
            database = unpacked
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield connection
        finally:
            connection.close()
    except (sqlite3.Error, lzma.LZMAError, EOFError) as error:
        raise EiwaError(f"gazetteer: cannot read {database}: {error}") from None
    finally:
        if unpacked is not None:
            unpacked.unlink(missing_ok=True)


def _read_jmnedict(connection: sqlite3.Connection) -> tuple[dict[str, int], dict]:
    """Name -> group bitmask from jamdict's JMnedict tables (NEKanji, NEKana, NETranslation, NETransType)."""
    type_counts: dict[str, int] = {}
    entry_masks: dict[int, int] = {}
    query = "SELECT t.idseq, y.text FROM NETranslation t JOIN NETransType y ON y.tid = t.ID"
    for idseq, name_type in connection.execute(query):
        type_counts[name_type] = type_counts.get(name_type, 0) + 1
        bit = _GROUP_BIT[TYPE_GROUPS.get(name_type, "other")]
        entry_masks[idseq] = entry_masks.get(idseq, 0) | bit
    entries = connection.execute("SELECT count(*) FROM NEEntry").fetchone()[0]
    jmnedict_meta = {}
    with contextlib.suppress(sqlite3.Error):
        jmnedict_meta = {k: v for k, v in connection.execute("SELECT key, value FROM meta") if k.startswith("jmnedict")}

    names: dict[str, int] = {}
    spellings = one_character = hiragana = untyped = 0
    normalize, get = unicodedata.normalize, entry_masks.get
    query = "SELECT idseq, text FROM NEKanji UNION ALL SELECT idseq, text FROM NEKana"
    for idseq, text in connection.execute(query):
        spellings += 1
        name = normalize("NFKC", text or "")
        if len(name) < 2:
            one_character += 1
        elif not name.strip(_HIRAGANA_CHARACTERS):
            hiragana += 1
        elif "\t" not in name and "\n" not in name:
            mask = get(idseq)
            if mask is None:
                untyped += 1
                mask = _OTHER_BIT
            names[name] = names.get(name, 0) | mask
    summary = {
        "entries": entries,
        "spellings": spellings,
        "dropped_one_character": one_character,
        "dropped_hiragana_only": hiragana,
        "untyped_spellings": untyped,
        "type_counts": dict(sorted(type_counts.items(), key=lambda item: -item[1])),
        "jmnedict": jmnedict_meta,
    }
    return names, summary


_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_ENGLISH_NAME = re.compile(r"[A-Z][A-Za-z0-9.'&\- ]*")


def english_name(gloss: str) -> str | None:
    """The form of an English gloss that is matched on English tokens, or None if it is not kept
    (see the module docstring)."""
    text = _PARENTHESES.sub("", gloss or "")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = " ".join(text.split())
    if len(text) < 2 or not _ENGLISH_NAME.fullmatch(text) or len(text.split()) > DEFAULT_MAX_TOKENS:
        return None
    return text


def _read_jmnedict_english(connection: sqlite3.Connection) -> tuple[dict[str, int], dict]:
    """English gloss -> group bitmask: each translation's glosses take the groups of its types."""
    type_counts: dict[str, int] = {}
    translation_masks: dict[int, int] = {}
    for tid, name_type in connection.execute("SELECT tid, text FROM NETransType"):
        type_counts[name_type] = type_counts.get(name_type, 0) + 1
        translation_masks[tid] = translation_masks.get(tid, 0) | _GROUP_BIT[TYPE_GROUPS.get(name_type, "other")]
    entries = connection.execute("SELECT count(*) FROM NEEntry").fetchone()[0]
    names: dict[str, int] = {}
    glosses = dropped = untyped = 0
    for tid, language, text in connection.execute("SELECT tid, lang, text FROM NETransGloss"):
        if language not in (None, "", "eng"):
            continue
        glosses += 1
        name = english_name(text)
        if name is None:
            dropped += 1
            continue
        mask = translation_masks.get(tid)
        if mask is None:
            untyped += 1
            mask = _OTHER_BIT
        names[name] = names.get(name, 0) | mask
    summary = {"entries": entries, "glosses": glosses, "dropped_glosses": dropped, "untyped_glosses": untyped,
               "type_counts": dict(sorted(type_counts.items(), key=lambda item: -item[1]))}
    return names, summary


def _write_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez_compressed(out, **arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def build_cache(
    force: bool = False, log: Callable[[str], None] = _log_nothing, database: Path | None = None, language: str = "ja"
) -> Path:
    """Compile JMnedict into the cache file and return its path; an existing file is kept unless ``force``.

    ``language`` chooses the spellings: "ja" (kanji and kana) or "en" (English glosses).

    ``database`` replaces jamdict-data's database (a ``.db`` or ``.db.xz`` with jamdict's JMnedict
    tables); its cache file is named by a digest of its path, size and modification time. The file
    is written to a temporary name and renamed, so an interrupted build leaves no partial cache.
    """
    _check_language(language)
    source, version = _source(database)
    target = _cache_path(version, language)
    if target.is_file() and not force:
        log(f"gazetteer: {target} exists (force rebuilds it)")
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EiwaError(f"gazetteer: cannot create the cache directory {target.parent}: {error}") from None
    started = time.perf_counter()
    log(f"gazetteer: compiling {source} ({LICENCE}){'' if language == 'ja' else ', ' + language + ' glosses'}")
    with _connect(source, target.parent, log) as connection:
        try:
            names, summary = (_read_jmnedict if language == "ja" else _read_jmnedict_english)(connection)
        except sqlite3.Error as error:
            raise EiwaError(f"gazetteer: {source} has no readable JMnedict tables: {error}") from None
    keys, masks = _compile(names)
    all_masks = np.fromiter(names.values(), dtype=np.uint8, count=len(names))
    group_counts = {group: int(np.count_nonzero(all_masks & bit)) for group, bit in _GROUP_BIT.items()}
    lengths = [len(name) for name in names]
    meta = {
        "format": FORMAT,
        "language": language,
        "source": f"jamdict-data {version}" if database is None else str(source),
        "licence": LICENCE,
        "groups": list(GROUPS),
        "type_groups": {t: TYPE_GROUPS.get(t, "other") for t in summary["type_counts"]},
        "group_counts": group_counts,
        "names": len(names),
        "min_length": min(lengths, default=0),
        "max_length": max(lengths, default=0),
        "hash": _HASH,
        **summary,
    }
    arrays = {
        "keys": keys,
        "masks": masks,
        "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
        "names_tsv": np.frombuffer(_names_tsv(names).encode(), dtype=np.uint8),
    }
    try:
        _write_atomically(target, arrays)
    except OSError as error:
        raise EiwaError(f"gazetteer: cannot write {target}: {error}") from None
    if language == "ja":
        log(
            f"gazetteer: {summary['entries']:,} entries, {summary['spellings']:,} spellings -> {len(names):,} names "
            f"(dropped {summary['dropped_hiragana_only']:,} hiragana-only and "
            f"{summary['dropped_one_character']:,} one-character spellings)"
        )
    else:
        log(f"gazetteer: {summary['entries']:,} entries, {summary['glosses']:,} English glosses -> {len(names):,} "
            f"names (dropped {summary['dropped_glosses']:,} glosses that are not name-shaped)")
    for group in GROUPS:
        types = ", ".join(f"{t} {n:,}" for t, n in summary["type_counts"].items() if meta["type_groups"][t] == group)
        log(f"gazetteer:   {group:<12} {group_counts[group]:>9,} names  (types: {types or 'none'})")
    log(f"gazetteer: wrote {target} ({target.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return target


# ----------------------------------------------------------------------------- the gazetteer


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * _GOLDEN mix all bits


class _Table:
    """The loaded lookup, shared read-only by every Gazetteer made from the same file.

    ``keys`` (sorted) and ``masks`` are the names; ``bloom`` is a bitset of 8 to 16 bits per name
    (13.5 for JMnedict: 1 MB), with the bit of each key set. Most candidate spans of a sentence are
    not names, and most of those find their bit clear (false positives: 1 - exp(-1/13.5) = 7 % for
    JMnedict): they are rejected by one read of a table that stays in cache, and only the others pay
    for a binary search of the 5 MB ``keys`` (about twenty scattered reads each; this cut lookup
    time about four times).
    """

    def __init__(self, keys: np.ndarray, masks: np.ndarray, min_length: int, max_length: int, meta: dict,
                 path: Path | None = None, names: dict[str, int] | None = None):
        self.keys, self.masks = keys, masks
        bits = max(6, (8 * len(keys)).bit_length())
        self.bloom_shift = np.uint64(64 - bits)
        present = np.zeros(1 << bits, dtype=bool)
        present[(keys * _GOLDEN) >> self.bloom_shift] = True  # uint64 products wrap, as they should
        self.bloom = np.packbits(present, bitorder="little")
        for array in (self.keys, self.masks, self.bloom):
            array.flags.writeable = False
        self.min_length, self.max_length = min_length, max_length
        self.meta, self.path, self.names = meta, path, names
        self._fingerprint: str | None = None

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """The group mask of each query key, 0 where it is not a key."""
        result = np.zeros(len(queries), dtype=np.uint8)
        if len(self.keys) == 0 or len(queries) == 0:
            return result
        slot = (queries * _GOLDEN) >> self.bloom_shift
        maybe = np.flatnonzero((self.bloom[slot >> np.uint64(3)] >> (slot & np.uint64(7)).astype(np.uint8)) & 1)
        if maybe.size == 0:
            return result
        wanted = queries[maybe]
        at = np.searchsorted(self.keys, wanted)
        at[at == len(self.keys)] = 0
        hit = self.keys[at] == wanted
        result[maybe[hit]] = self.masks[at[hit]]
        return result

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(json.dumps({"eiwa-gazetteer": FORMAT, "groups": GROUPS, "hash": _HASH}).encode())
            digest.update(self.keys.astype("<u8", copy=False).tobytes())
            digest.update(self.masks.tobytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint


_LOADED: dict[tuple[str, int, int], _Table] = {}
_LOAD_LOCK = threading.Lock()


def _read_table(path: Path) -> _Table:
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            if meta.get("format") != FORMAT or meta.get("groups") != list(GROUPS) or meta.get("hash") != _HASH:
                raise EiwaError(
                    f"gazetteer: {path} was compiled by another version of eiwa; "
                    "rebuild it with `eiwa gazetteer build --force`"
                )
            keys = archive["keys"].astype(np.uint64, copy=False)
            masks = archive["masks"].astype(np.uint8, copy=False)
            min_length, max_length = int(meta["min_length"]), int(meta["max_length"])
    except EiwaError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise EiwaError(
            f"gazetteer: cannot read {path} ({error}); rebuild it with `eiwa gazetteer build --force`"
        ) from None
    if keys.shape != masks.shape or keys.ndim != 1:
        raise EiwaError(f"gazetteer: {path} is damaged; rebuild it with `eiwa gazetteer build --force`")
    return _Table(keys, masks, min_length, max_length, meta, path=path)


class Gazetteer:
    """Longest-match tagging of token sequences against a name list, per group of ``GROUPS``."""

    groups: tuple[str, ...] = GROUPS

    def __init__(self, table: _Table, max_tokens: int = DEFAULT_MAX_TOKENS):
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
        self._table = table
        self.groups = GROUPS
        self.max_tokens = int(max_tokens)

    # -- construction

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        log: Callable[[str], None] = _log_nothing,
        language: str = "ja",
    ) -> Gazetteer:
        """The compiled cache at ``path``; by default jamdict-data's JMnedict in ``language``'s
        spellings, compiled on first use (about 10 s; ``log`` gets build_cache's lines).

        Loaded files are kept for the life of the process (keyed by path, size and modification
        time), so loading again, for example once per cross-validation fold, costs nothing.
        Without jamdict-data an existing cache file (the newest) is still used.
        """
        if path is None:
            try:
                path = build_cache(log=log, language=language)
            except EiwaError as error:
                existing = _cached_files(language)
                if not existing:
                    raise error from None
                path = existing[0]
        path = Path(path)
        try:
            stat = path.stat()
        except OSError:
            raise EiwaError(f"gazetteer: {path}: no such cache file (`eiwa gazetteer build` makes it)") from None
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with _LOAD_LOCK:
            table = _LOADED.get(key)
            if table is None:
                table = _LOADED[key] = _read_table(path)
        return cls(table, max_tokens)

    @classmethod
    def from_names(
        cls, names: Mapping[str, Iterable[str]] | Iterable[tuple[str, str]], *, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> Gazetteer:
        """A gazetteer of the given names: ``{name: {group, ...}}`` (or ``{name: group}``) or ``(name, group)`` pairs.

        Names are NFKC-normalised and filtered like JMnedict's (one character or hiragana-only:
        dropped); a group not in ``GROUPS`` is a ValueError.
        """
        pairs = (
            (
                (name, group)
                for name, groups in names.items()
                for group in ((groups,) if isinstance(groups, str) else groups)
            )
            if isinstance(names, Mapping)
            else names
        )
        masks: dict[str, int] = {}
        for name, group in pairs:
            if group not in _GROUP_BIT:
                raise ValueError(f"unknown gazetteer group {group!r}: expected one of {', '.join(GROUPS)}")
            name = unicodedata.normalize("NFKC", name)
            if _keep(name):
                masks[name] = masks.get(name, 0) | _GROUP_BIT[group]
        keys, bitmasks = _compile(masks)
        lengths = [len(name) for name in masks]
        meta = {"source": "from_names", "names": len(masks), "groups": list(GROUPS)}
        table = _Table(keys, bitmasks, min(lengths, default=0), max(lengths, default=0), meta, names=masks)
        return cls(table, max_tokens)

    # -- facts

    @property
    def meta(self) -> dict:
        """What the cache file records about its build (source, licence, counts); minimal for from_names."""
        return self._table.meta

    def __len__(self) -> int:
        return len(self._table.keys)

    def fingerprint(self) -> str:
        """16 hex digits of sha256 over the lookup (keys, group masks, groups, hash scheme).

        Equal name lists give equal fingerprints however they were made; ``max_tokens`` is not
        part of it (it is a matching setting, which a model has to record itself).
        """
        return self._table.fingerprint()

    def groups_of(self, name: str) -> tuple[str, ...]:
        """The groups of ``name`` (after NFKC), () if it is not in the gazetteer."""
        return _groups_of_mask(self._lookup([_nfkc(name)])[0]) if name else ()

    def names(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """Every stored name with its groups, sorted by name (reads the cache file again)."""
        table = self._table
        if table.names is not None:
            for name in sorted(table.names):
                yield name, _groups_of_mask(table.names[name])
            return
        with np.load(table.path, allow_pickle=False) as archive:
            text = archive["names_tsv"].tobytes().decode()
        for line in text.splitlines():
            name, _, groups = line.partition("\t")
            yield name, tuple(groups.split(",")) if groups else ()

    # -- matching

    def _lookup(self, strings: Sequence[str]) -> np.ndarray:
        """Group masks of whole strings (0: not a name)."""
        table = self._table
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        ends = np.cumsum(lengths)
        masks = table.lookup(_span_keys("".join(strings), ends - lengths, ends))
        masks[(lengths < table.min_length) | (lengths > table.max_length)] = 0
        return masks

    def match(self, words: Sequence[str], separator: str = "") -> np.ndarray:
        """int64 [len(words), len(GROUPS)] of indices into ``TAGS`` (0 = O).

        For each group separately, left to right: at each token take the longest run of up to
        ``max_tokens`` tokens whose NFKC texts joined with ``separator`` ("" for Japanese, " " for
        English) is a name of that group, mark it S (one token) or B, I..., E, and go on after it;
        where no run is a name, go on to the next token.
        """
        return self._match_chunk([words], separator)[0]

    def match_many(self, sentences_words: Iterable[Sequence[str]], separator: str = "") -> list[np.ndarray]:
        """``[self.match(words, separator) for words in sentences_words]``, several times faster.

        Sentences are matched in chunks of ``_CHUNK`` at a time: the numpy work of one sentence is
        a fixed cost of some 30 small array operations, which a chunk pays once.
        """
        results: list[np.ndarray] = []
        chunk: list[Sequence[str]] = []
        for words in sentences_words:
            chunk.append(words)
            if len(chunk) == _CHUNK:
                results.extend(self._match_chunk(chunk, separator))
                chunk = []
        if chunk:
            results.extend(self._match_chunk(chunk, separator))
        return results

    def _match_chunk(self, sentences: Sequence[Sequence[str]], separator: str) -> list[np.ndarray]:
        """match() of each sentence, done on their tokens concatenated.

        No span crosses a sentence boundary, so the greedy scan over the concatenation gives
        each sentence the tags it would get alone.
        """
        counts = [len(words) for words in sentences]
        n = sum(counts)
        out = np.zeros((n, len(GROUPS)), dtype=np.int64)
        table = self._table
        if n and len(table.keys):
            self._tag(out, [_nfkc(word) for words in sentences for word in words], counts, _nfkc(separator))
        if len(sentences) == 1:
            return [out]
        return np.split(out, np.cumsum(counts[:-1]))

    def _tag(self, out: np.ndarray, tokens: list[str], counts: list[int], separator: str) -> None:
        table = self._table
        n = len(tokens)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1] + len(separator), out=starts[1:])
        ends = starts + lengths
        width = min(self.max_tokens, max(counts))
        # Span (i, k) is tokens i .. i+k, characters starts[i] .. ends[i+k] of the joined text.
        # Spans that run past their sentence, or are too short or too long to be a name, are not
        # looked up.
        last = np.arange(n)[:, None] + np.arange(width)
        limit = n if len(counts) == 1 else np.repeat(np.cumsum(counts), counts)[:, None]
        span_ends = ends[np.minimum(last, n - 1)]
        span_lengths = span_ends - starts[:, None]
        candidate = (last < limit) & (span_lengths >= table.min_length) & (span_lengths <= table.max_length)
        rows, columns = np.nonzero(candidate)
        if rows.size == 0:
            return
        masks = table.lookup(_span_keys(separator.join(tokens), starts[rows], span_ends[rows, columns]))
        named = np.flatnonzero(masks)
        if named.size == 0:
            return
        # The longest name of each group at each start (spans come by start, then by length).
        longest: dict[tuple[int, int], int] = {}
        for i, k, mask in zip(rows[named].tolist(), columns[named].tolist(), masks[named].tolist()):
            for g in _GROUPS_OF_MASK[mask]:
                longest[g, i] = k + 1
        previous_group, following = -1, 0
        for (g, i), length in sorted(longest.items()):
            if g != previous_group:
                previous_group, following = g, 0
            if i < following:  # inside this group's previous match
                continue
            if length == 1:
                out[i, g] = S
            else:
                out[i, g] = B
                out[i + 1 : i + length - 1, g] = I
                out[i + length - 1, g] = E
            following = i + length

    def statistics(self, sentences_words: Iterable[Sequence[str]], separator: str = "") -> dict:
        """How much of a corpus the gazetteer covers.

        ``{"sentences": int, "tokens": int, "share": {group: float}, "share_any": float,
        "matches": {group: int}}``: ``share`` is the share of tokens inside a match of the group
        (tag other than O), ``share_any`` inside a match of any group, ``matches`` the number of
        matches (B or S tags).
        """
        sentences = tokens = any_inside = 0
        inside = np.zeros(len(GROUPS), dtype=np.int64)
        matches = np.zeros(len(GROUPS), dtype=np.int64)
        for tags in self.match_many(sentences_words, separator):
            sentences += 1
            tokens += len(tags)
            inside += (tags != O).sum(axis=0)
            any_inside += int((tags != O).any(axis=1).sum())
            matches += ((tags == B) | (tags == S)).sum(axis=0)
        share = {g: (int(inside[i]) / tokens if tokens else 0.0) for i, g in enumerate(GROUPS)}
        return {
            "sentences": sentences,
            "tokens": tokens,
            "share": share,
            "share_any": any_inside / tokens if tokens else 0.0,
            "matches": {g: int(matches[i]) for i, g in enumerate(GROUPS)},
        }
