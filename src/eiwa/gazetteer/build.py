"""Compiling JMnedict from jamdict-data's SQLite database into the gazetteer's cache file.

:func:`build_cache` compiles it once into ``cache_dir()/jmnedict-<jamdict-data version>.f<FORMAT>.npz``
(``jmnedict-en-...`` for the English glosses), a compressed numpy ``.npz`` without pickles (read
with ``allow_pickle=False``) holding ``keys``, ``masks``, ``meta`` (JSON: source, licence, groups,
type counts, hash parameters) and ``names_tsv`` (the names and their groups as UTF-8 TSV, for
inspection: :meth:`Gazetteer.names`; never read by matching). The file is written atomically
(:func:`eiwa.persist.atomic.write_atomic`), so an interrupted build leaves no partial cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import lzma
import os
import shutil
import sqlite3
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from eiwa.errors import EiwaError
from eiwa.gazetteer.hashing import FORMAT, HASH, keys_and_masks
from eiwa.gazetteer.names import (
    GROUP_BIT,
    GROUPS,
    LANGUAGES,
    LICENCE,
    TYPE_GROUPS,
    english_name,
    group_bit,
    groups_of_mask,
    noise,
)
from eiwa.persist.atomic import write_atomic
from eiwa.persist.files import readable_file
from eiwa.resources.cache import cache_dir
from eiwa.resources.jmdict import INSTALL_HINT, connect_read_only, installed_database

_OTHER_BIT = GROUP_BIT["other"]


def _cache_path(version: str, language: str = "ja") -> Path:
    prefix = "jmnedict-" if language == "ja" else f"jmnedict-{language}-"
    return cache_dir() / f"{prefix}{version}.f{FORMAT}.npz"


def cached_files(language: str) -> list[Path]:
    """Existing cache files of ``language``, newest first."""
    found = cache_dir().glob(_cache_path("*", language).name)
    if language == "ja":  # jmnedict-*.npz also matches the other languages' files
        found = (p for p in found if not any(p.name.startswith(f"jmnedict-{other}-") for other in LANGUAGES))
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise EiwaError(f"gazetteer: no dictionary for language {language!r}; there are: {', '.join(LANGUAGES)}")


def _source(database: Path | None) -> tuple[Path, str]:
    """The database to compile (``.db`` or ``.db.xz``) and the version that names its cache."""
    if database is not None:
        database = Path(database).resolve()
        if not database.is_file():
            raise EiwaError(f"gazetteer: {database}: no such database")
        stat = database.stat()
        digest = hashlib.sha256(f"{database}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
        return database, f"db-{digest[:12]}"
    plain, version = installed_database("gazetteer: JMnedict")
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
            with os.fdopen(fd, "wb") as out, lzma.open(readable_file(database)) as packed:
                shutil.copyfileobj(packed, out, length=1 << 20)
            log(f"gazetteer: unpacked {database.name} in {time.perf_counter() - started:.1f} s")
            database = unpacked
        connection = connect_read_only(database)
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
        entry_masks[idseq] = entry_masks.get(idseq, 0) | group_bit(name_type)
    entries = connection.execute("SELECT count(*) FROM NEEntry").fetchone()[0]
    jmnedict_meta = {}
    with contextlib.suppress(sqlite3.Error):
        jmnedict_meta = {k: v for k, v in connection.execute("SELECT key, value FROM meta") if k.startswith("jmnedict")}

    names: dict[str, int] = {}
    dropped: Counter[str] = Counter()
    spellings = untyped = 0
    normalize, get = unicodedata.normalize, entry_masks.get
    query = "SELECT idseq, text FROM NEKanji UNION ALL SELECT idseq, text FROM NEKana"
    for idseq, text in connection.execute(query):
        spellings += 1
        name = normalize("NFKC", text or "")
        reason = noise(name)
        if reason is not None:
            dropped[reason] += 1
            continue
        mask = get(idseq)
        if mask is None:
            untyped += 1
            mask = _OTHER_BIT
        names[name] = names.get(name, 0) | mask
    summary = {
        "entries": entries,
        "spellings": spellings,
        "dropped_one_character": dropped["one_character"],
        "dropped_hiragana_only": dropped["hiragana_only"],
        "untyped_spellings": untyped,
        "type_counts": dict(sorted(type_counts.items(), key=lambda item: -item[1])),
        "jmnedict": jmnedict_meta,
    }
    return names, summary


def _read_jmnedict_english(connection: sqlite3.Connection) -> tuple[dict[str, int], dict]:
    """English gloss -> group bitmask: each translation's glosses take the groups of its types."""
    type_counts: dict[str, int] = {}
    translation_masks: dict[int, int] = {}
    for tid, name_type in connection.execute("SELECT tid, text FROM NETransType"):
        type_counts[name_type] = type_counts.get(name_type, 0) + 1
        translation_masks[tid] = translation_masks.get(tid, 0) | group_bit(name_type)
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
    summary = {
        "entries": entries,
        "glosses": glosses,
        "dropped_glosses": dropped,
        "untyped_glosses": untyped,
        "type_counts": dict(sorted(type_counts.items(), key=lambda item: -item[1])),
    }
    return names, summary


def _names_tsv(names: Mapping[str, int]) -> str:
    labels = {mask: ",".join(groups_of_mask(mask)) for mask in set(names.values())}
    return "".join(f"{name}\t{labels[names[name]]}\n" for name in sorted(names))


def _meta(names: Mapping[str, int], summary: dict, language: str, source: str) -> dict:
    """What the cache file records about its build (``Gazetteer.meta``)."""
    all_masks = np.fromiter(names.values(), dtype=np.uint8, count=len(names))
    lengths = [len(name) for name in names]
    return {
        "format": FORMAT,
        "language": language,
        "source": source,
        "licence": LICENCE,
        "groups": list(GROUPS),
        "type_groups": {t: TYPE_GROUPS.get(t, "other") for t in summary["type_counts"]},
        "group_counts": {group: int(np.count_nonzero(all_masks & bit)) for group, bit in GROUP_BIT.items()},
        "names": len(names),
        "min_length": min(lengths, default=0),
        "max_length": max(lengths, default=0),
        "hash": HASH,
        **summary,
    }


def _write(target: Path, names: Mapping[str, int], meta: dict) -> None:
    keys, masks = keys_and_masks(names)
    arrays = {
        "keys": keys,
        "masks": masks,
        "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
        "names_tsv": np.frombuffer(_names_tsv(names).encode(), dtype=np.uint8),
    }

    def save(temporary: str) -> None:
        with open(temporary, "wb") as out:
            np.savez_compressed(out, **arrays)

    try:
        write_atomic(target, save)
    except OSError as error:
        raise CacheNotWritable(f"gazetteer: cannot write {target}: {error}") from None


def _log_summary(log: Callable[[str], None], meta: dict) -> None:
    if meta["language"] == "ja":
        log(
            f"gazetteer: {meta['entries']:,} entries, {meta['spellings']:,} spellings -> {meta['names']:,} names "
            f"(dropped {meta['dropped_hiragana_only']:,} hiragana-only and "
            f"{meta['dropped_one_character']:,} one-character spellings)"
        )
    else:
        log(
            f"gazetteer: {meta['entries']:,} entries, {meta['glosses']:,} English glosses -> {meta['names']:,} "
            f"names (dropped {meta['dropped_glosses']:,} glosses that are not name-shaped)"
        )
    for group in GROUPS:
        types = ", ".join(f"{t} {n:,}" for t, n in meta["type_counts"].items() if meta["type_groups"][t] == group)
        log(f"gazetteer:   {group:<12} {meta['group_counts'][group]:>9,} names  (types: {types or 'none'})")


class CacheNotWritable(EiwaError):
    """The cache directory cannot be made or written (a read-only home, a full disk)."""


def compile_names(
    language: str = "ja", database: Path | None = None, log: Callable[[str], None] = lambda line: None
) -> tuple[dict[str, int], dict]:
    """JMnedict's names (name -> group bitmask) and what the cache file records about them, compiled
    from jamdict-data's database (or ``database``) without writing anything but a scratch copy of an
    xz-compressed database in the temporary directory."""
    _check_language(language)
    source, version = _source(database)
    return _compile(source, version, database is not None, language, Path(tempfile.gettempdir()), log)


def _compile(
    source: Path, version: str, given: bool, language: str, scratch: Path, log: Callable[[str], None]
) -> tuple[dict[str, int], dict]:
    log(f"gazetteer: compiling {source} ({LICENCE}){'' if language == 'ja' else ', ' + language + ' glosses'}")
    with _connect(source, scratch, log) as connection:
        try:
            names, summary = (_read_jmnedict if language == "ja" else _read_jmnedict_english)(connection)
        except sqlite3.Error as error:
            raise EiwaError(f"gazetteer: {source} has no readable JMnedict tables: {error}") from None
    return names, _meta(names, summary, language, str(source) if given else f"jamdict-data {version}")


def build_cache(
    force: bool = False,
    log: Callable[[str], None] = lambda line: None,
    database: Path | None = None,
    language: str = "ja",
) -> Path:
    """Compile JMnedict into the cache file and return its path; an existing file is kept unless ``force``.

    ``language`` chooses the spellings: "ja" (kanji and kana) or "en" (English glosses).

    ``database`` replaces jamdict-data's database (a ``.db`` or ``.db.xz`` with jamdict's JMnedict
    tables); its cache file is named by a digest of its path, size and modification time.
    A cache directory that cannot be written is a ``CacheNotWritable`` error.
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
        raise CacheNotWritable(f"gazetteer: cannot create the cache directory {target.parent}: {error}") from None
    started = time.perf_counter()
    names, meta = _compile(source, version, database is not None, language, target.parent, log)
    _write(target, names, meta)
    _log_summary(log, meta)
    log(f"gazetteer: wrote {target} ({target.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return target
