"""The gazetteer's lookup: names as 64-bit keys of two rolling hashes, in a sorted table behind a Bloom bitset.

No strings are kept in memory. Each name is reduced to a 64-bit key, two polynomial hashes of its
code points modulo two primes just below 2**32 (:func:`name_keys`), and the keys are kept sorted in
a numpy array beside a ``uint8`` array of group bitmasks and a 1 MB Bloom bitset
(:class:`NameTable`): about 11 bytes per name, 7 MB of memory for JMnedict's 623,486 names, where a
Python dict of them (name -> int) takes 89 MB and 1.8 s to fill. The polynomial hash makes the keys
of all token spans of a sentence computable at once from prefix sums (:func:`span_keys`), so a
sentence costs a fixed number of numpy operations: no per-character Python work, and no Python
loop over spans.

Two different strings of length L get the same key with probability about (L / 2**32)**2 (a
fixed pair of bases, non-adversarial text): for a 30-character span against 623,486 names that is
about 3e-11 per lookup; a false match would be a spurious feature, nothing worse.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from eiwa.gazetteer.names import GROUPS

FORMAT = 1  # of the compiled table and its cache file; part of the file's name, so that another format is rebuilt

# Two polynomial hashes modulo primes below 2**32: a product of two residues fits in uint64.
_P1, _P2 = 4294967291, 4294967279
_B1, _B2 = 911382323, 972663749
HASH = {"p1": _P1, "p2": _P2, "b1": _B1, "b2": _B2}

_PRIMES = np.array([[_P1], [_P2]], dtype=np.uint64)  # column: broadcasts over the (2, n) arrays below
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * _GOLDEN mix all bits
_BLOOM_CHUNK = 1 << 16  # keys whose Bloom bits are set at once


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


def name_keys(names: Sequence[str]) -> np.ndarray:
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


def span_keys(text: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The keys of text[starts[k]:ends[k]] for all k, equal to ``name_keys`` of those strings.

    With prefix sums C[j] = sum(c[i] * B**i for i < j), the key of [a, b) is (C[b] - C[a]) * B**-a.
    """
    codes = _codes(text)
    n = len(codes)
    powers, inverses = _POWERS.get(n + 1)
    prefix = np.zeros((2, n + 1), dtype=np.uint64)
    np.cumsum(codes * powers[:, :n] % _PRIMES, axis=1, out=prefix[:, 1:])
    prefix %= _PRIMES
    return _combine((prefix[:, ends] + _PRIMES - prefix[:, starts]) % _PRIMES * inverses[:, starts] % _PRIMES)


def keys_and_masks(names: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys of the names and their group bitmasks (bitmasks of colliding keys are or-ed)."""
    ordered = sorted(names)
    keys = name_keys(ordered)
    masks = np.fromiter((names[name] for name in ordered), dtype=np.uint8, count=len(ordered))
    unique, inverse = np.unique(keys, return_inverse=True)
    merged = np.zeros(len(unique), dtype=np.uint8)
    np.bitwise_or.at(merged, inverse, masks)
    return unique, merged


class NameTable:
    """The loaded lookup, shared read-only by every Gazetteer made from the same file.

    ``keys`` (sorted) and ``masks`` are the names; ``bloom`` is a bitset of 8 to 16 bits per name
    (13.5 for JMnedict: 1 MB), with the bit of each key set. Most candidate spans of a sentence are
    not names, and most of those find their bit clear (false positives: 1 - exp(-1/13.5) = 7 % for
    JMnedict): they are rejected by one read of a table that stays in cache, and only the others pay
    for a binary search of the 5 MB ``keys`` (about twenty scattered reads each).
    """

    def __init__(
        self,
        keys: np.ndarray,
        masks: np.ndarray,
        min_length: int,
        max_length: int,
        meta: dict,
        path: Path | None = None,
        names: dict[str, int] | None = None,
    ):
        self.keys, self.masks = keys, masks
        bits = max(6, (8 * len(keys)).bit_length())
        self.bloom_shift = np.uint64(64 - bits)
        self.bloom = np.zeros(1 << (bits - 3), dtype=np.uint8)
        for start in range(0, len(keys), _BLOOM_CHUNK):  # in chunks: a few temporary MB at most
            slot = (keys[start : start + _BLOOM_CHUNK] * _GOLDEN) >> self.bloom_shift  # uint64 products wrap
            np.bitwise_or.at(self.bloom, slot >> np.uint64(3), np.uint8(1) << (slot & np.uint64(7)).astype(np.uint8))
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
            digest.update(json.dumps({"eiwa-gazetteer": FORMAT, "groups": GROUPS, "hash": HASH}).encode())
            digest.update(self.keys.astype("<u8", copy=False).tobytes())
            digest.update(self.masks.tobytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint
