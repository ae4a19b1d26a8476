"""The `Gazetteer`: longest-match tagging of token sequences against the compiled names, per type group.

:meth:`Gazetteer.load` reads the compiled cache (once per process; :mod:`eiwa.gazetteer.build`
makes it) and :meth:`Gazetteer.match` tags the tokens of a sentence with ``TAGS`` per group of
``GROUPS``: 東京, a place and a surname, is tagged S in both ``person`` and ``place``.
:meth:`Gazetteer.from_names` applies JMnedict's normalisation and filters
(:mod:`eiwa.gazetteer.names`), so that tests see what real data gets.

A sentence costs a fixed number of numpy operations plus one (cached) NFKC call per token: the
keys of all its token spans (every start, up to ``max_tokens`` tokens, within the length range of
the stored names) come at once from :func:`~eiwa.gazetteer.hashing.span_keys`.
:meth:`Gazetteer.match_many` pays that fixed cost once per chunk of sentences, which makes it
several times faster than ``match`` in a loop.
"""

from __future__ import annotations

import functools
import json
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from eiwa.errors import EiwaError
from eiwa.gazetteer.build import CacheNotWritable, build_cache, cached_files, compile_names
from eiwa.gazetteer.hashing import FORMAT, HASH, NameTable, keys_and_masks, span_keys
from eiwa.gazetteer.names import DEFAULT_MAX_TOKENS, GROUP_BIT, GROUPS, groups_of_mask, noise
from eiwa.persist.files import readable_file, reason

TAGS = ("O", "B", "I", "E", "S")
O, B, I, E, S = range(len(TAGS))  # noqa: E741 (the tag letters themselves)

_CHUNK = 256  # sentences that match_many tags at once
_GROUPS_OF_MASK = tuple(tuple(g for g in range(len(GROUPS)) if mask >> g & 1) for mask in range(256))

_LOADED: dict[tuple[str, int, int], NameTable] = {}
_LOAD_LOCK = threading.Lock()


# The most recent distinct tokens' NFKC forms (about 200 bytes each: at most ~13 MB, however much is tagged).
NFKC_CACHE_SIZE = 65_536


@functools.lru_cache(maxsize=NFKC_CACHE_SIZE)
def _nfkc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _rebuild_it(path: Path, problem: str) -> EiwaError:
    return EiwaError(f"gazetteer: {path} {problem}; rebuild it with `eiwa gazetteer build --force`")


def _read_table(path: Path) -> NameTable:
    try:
        with np.load(readable_file(path, EiwaError, "gazetteer table"), allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            if meta.get("format") != FORMAT or meta.get("groups") != list(GROUPS) or meta.get("hash") != HASH:
                raise _rebuild_it(path, "was compiled by another version of eiwa")
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
        raise _rebuild_it(path, "is damaged")
    return NameTable(keys, masks, min_length, max_length, meta, path=path)


def _compiled_in_memory(language: str, log: Callable[[str], None]) -> NameTable:
    key = ("memory", language, 0)
    with _LOAD_LOCK:
        if key not in _LOADED:
            names, meta = compile_names(language, log=log)
            keys, masks = keys_and_masks(names)
            _LOADED[key] = NameTable(keys, masks, meta["min_length"], meta["max_length"], meta)
        return _LOADED[key]


def _group_pairs(names: Mapping[str, Iterable[str]] | Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """``(name, group)`` pairs of ``{name: {group, ...}}``, ``{name: group}`` or the pairs themselves."""
    if not isinstance(names, Mapping):
        return names
    return (
        (name, group) for name, groups in names.items() for group in ((groups,) if isinstance(groups, str) else groups)
    )


class Gazetteer:
    """Longest-match tagging of token sequences against a name list, per group of ``GROUPS``."""

    groups: tuple[str, ...] = GROUPS

    def __init__(self, table: NameTable, max_tokens: int = DEFAULT_MAX_TOKENS):
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
        log: Callable[[str], None] = lambda line: None,
        language: str = "ja",
    ) -> Gazetteer:
        """The compiled cache at ``path``; by default jamdict-data's JMnedict in ``language``'s
        spellings, compiled on first use (about 10 s; ``log`` gets build_cache's lines).

        Loaded files are kept for the life of the process (keyed by path, size and modification
        time), so loading again, for example once per cross-validation fold, costs nothing.
        Without jamdict-data an existing cache file (the newest) is still used; where the cache
        cannot be written, the dictionary is compiled into memory for this process.
        """
        if path is None:
            try:
                path = build_cache(log=log, language=language)
            except CacheNotWritable as error:
                log(f"{error}; compiling it into memory for this process")
                return cls(_compiled_in_memory(language, log), max_tokens)
            except EiwaError as error:
                existing = cached_files(language)
                if not existing:
                    raise error from None
                path = existing[0]
        path = Path(path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise EiwaError(f"gazetteer: {path}: no such cache file (`eiwa gazetteer build` makes it)") from None
        except OSError as error:
            raise EiwaError(f"gazetteer: {path}: cannot read the cache file: {reason(error)}") from None
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
        masks: dict[str, int] = {}
        for name, group in _group_pairs(names):
            if group not in GROUP_BIT:
                raise ValueError(f"unknown gazetteer group {group!r}: expected one of {', '.join(GROUPS)}")
            name = unicodedata.normalize("NFKC", name)
            if noise(name) is None:
                masks[name] = masks.get(name, 0) | GROUP_BIT[group]
        keys, bitmasks = keys_and_masks(masks)
        lengths = [len(name) for name in masks]
        meta = {"source": "from_names", "names": len(masks), "groups": list(GROUPS)}
        table = NameTable(keys, bitmasks, min(lengths, default=0), max(lengths, default=0), meta, names=masks)
        return cls(table, max_tokens)

    @classmethod
    def from_arrays(
        cls,
        keys: np.ndarray,
        masks: np.ndarray,
        min_length: int,
        max_length: int,
        meta: dict | None = None,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        fingerprint: str | None = None,
    ) -> Gazetteer:
        """The gazetteer of a table kept elsewhere (a model's weights): sorted unique ``keys`` (uint64,
        or int64 holding the same bits), their group ``masks`` and the stored names' length range.
        ``fingerprint``: the table's, known already (a checksummed file recorded it), so not computed."""
        keys = np.asarray(keys)
        if keys.dtype == np.int64:
            keys = keys.view(np.uint64)
        masks = np.asarray(masks, dtype=np.uint8)
        if keys.dtype != np.uint64 or keys.ndim != 1 or keys.shape != masks.shape:
            raise EiwaError(f"gazetteer: a table needs keys and masks of one length, not {keys.shape}, {masks.shape}")
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
            raise EiwaError("gazetteer: the table's keys are not sorted")
        table = NameTable(keys, masks, int(min_length), int(max_length), dict(meta or {}))
        table._fingerprint = fingerprint
        return cls(table, max_tokens)

    @property
    def length_range(self) -> tuple[int, int]:
        """The shortest and longest stored name, in characters."""
        return self._table.min_length, self._table.max_length

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, masks): the lookup as ``from_arrays`` takes it (read-only)."""
        return self._table.keys, self._table.masks

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
        return groups_of_mask(self._lookup([_nfkc(name)])[0]) if name else ()

    def names(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """Every stored name with its groups, sorted by name (reads the cache file again); a table
        made ``from_arrays`` holds keys only and has no names to give."""
        table = self._table
        if table.names is not None:
            for name in sorted(table.names):
                yield name, groups_of_mask(table.names[name])
            return
        if table.path is None:
            raise EiwaError("gazetteer: this table holds the names' keys only, not their spellings")
        with np.load(readable_file(table.path, EiwaError, "gazetteer table"), allow_pickle=False) as archive:
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
        masks = table.lookup(span_keys("".join(strings), ends - lengths, ends))
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
        if n and len(self._table.keys):
            words = list(chain.from_iterable(sentences))
            normal = {word: _nfkc(word) for word in dict.fromkeys(words)}  # once per distinct word
            tokens = list(map(normal.__getitem__, words))
            self._mark(out, self._longest_names(tokens, counts, _nfkc(separator)))
        if len(sentences) == 1:
            return [out]
        return np.split(out, np.cumsum(counts[:-1]))

    def _longest_names(self, tokens: list[str], counts: list[int], separator: str) -> dict[tuple[int, int], int]:
        """(group, first token) -> the number of tokens of the longest name of that group starting there."""
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
        longest: dict[tuple[int, int], int] = {}
        if rows.size == 0:
            return longest
        masks = table.lookup(span_keys(separator.join(tokens), starts[rows], span_ends[rows, columns]))
        named = np.flatnonzero(masks)
        # Spans come by start, then by length: the last one of a group at a start is its longest.
        for i, k, mask in zip(rows[named].tolist(), columns[named].tolist(), masks[named].tolist()):
            for g in _GROUPS_OF_MASK[mask]:
                longest[g, i] = k + 1
        return longest

    @staticmethod
    def _mark(out: np.ndarray, longest: dict[tuple[int, int], int]) -> None:
        """Tag the names left to right per group, skipping names that start inside a marked one."""
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
