"""Keeping a batch varied: texts as TF-IDF vectors of their character bigrams, and a greedy choice
that weighs each candidate's uncertainty against its likeness to what is already chosen.

Character bigrams need no tokenizer and suit Japanese, where words are not spaced; they are
hashed into a fixed number of buckets so that no vocabulary is kept. The vectors are sparse rows
held as plain NumPy arrays (eiwa needs no SciPy): a text's similarity to all candidates is one
gather and one `bincount` over their non-zero entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

HASH_BITS = 20  # 1,048,576 buckets: collisions between a pool's bigrams are rare
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * this


class SparseRows(NamedTuple):
    """Row-sparse vectors: entry k is `values[k]` at column `columns[k]` of row `rows[k]`."""

    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    count: int  # how many rows
    width: int  # how many columns

    def row(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        found = slice(*np.searchsorted(self.rows, [index, index + 1]))
        return self.columns[found], self.values[found]


def bigram_tfidf(texts: Sequence[str]) -> SparseRows:
    """Each text's hashed character bigrams, weighted tf * idf (idf = log((1 + N) / (1 + df)) + 1,
    over these texts) and scaled to unit length: the dot product of two rows is their cosine."""
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    joined = "".join(texts).encode("utf-32-le", "surrogatepass")
    codes = np.frombuffer(joined, np.uint32).astype(np.uint64)
    text_of = np.repeat(np.arange(len(texts)), lengths)
    within = text_of[:-1] == text_of[1:]  # pairs that do not straddle two texts
    keys = (codes[:-1][within] << np.uint64(21)) | codes[1:][within]
    buckets = (keys * _GOLDEN) >> np.uint64(64 - HASH_BITS)
    pairs, tf = np.unique(text_of[:-1][within] * (1 << HASH_BITS) + buckets.astype(np.int64), return_counts=True)
    rows, buckets = pairs >> HASH_BITS, pairs & ((1 << HASH_BITS) - 1)
    used, columns = np.unique(buckets, return_inverse=True)  # columns renumbered 0..width-1
    df = np.bincount(columns, minlength=len(used))
    values = tf * (np.log((1 + len(texts)) / (1 + df)) + 1)[columns]
    norms = np.sqrt(np.bincount(rows, weights=values**2, minlength=len(texts)))
    values = values / norms[rows]
    return SparseRows(rows, columns.astype(np.int64), values, len(texts), len(used))


def similarities(vectors: SparseRows, index: int, scratch: np.ndarray) -> np.ndarray:
    """The cosine of row `index` with every row. `scratch` is a zero vector of `vectors.width`,
    left zero again."""
    columns, values = vectors.row(index)
    scratch[columns] = values
    products = vectors.values * scratch[vectors.columns]
    scratch[columns] = 0.0
    return np.bincount(vectors.rows, weights=products, minlength=vectors.count)


def diverse_order(scores: np.ndarray, texts: Sequence[str], n: int, weight: float) -> list[int]:
    """n positions into `scores` (the candidates' uncertainties, all finite), chosen one at a time:
    each step takes the candidate with the highest `scores / max(scores) - weight * s`, where s is
    its greatest cosine with a candidate already taken (maximal marginal relevance). Weight 0 is
    plain ranking; at weight w a near-copy of a text already taken must beat the others by w."""
    n = min(n, len(scores))
    order = np.argsort(-scores, kind="stable")
    if weight == 0 or n <= 1:
        return order[:n].tolist()
    top = scores.max()
    relevance = scores / top if top > 0 else np.zeros_like(scores)
    vectors = bigram_tfidf(texts)
    scratch = np.zeros(vectors.width)
    likeness = np.zeros(len(scores))
    taken = np.zeros(len(scores), dtype=bool)
    chosen = []
    for _ in range(n):
        value = np.where(taken, -np.inf, relevance - weight * likeness)
        pick = int(np.argmax(value))  # ties: the lowest position, the candidates' given order
        chosen.append(pick)
        taken[pick] = True
        likeness = np.maximum(likeness, similarities(vectors, pick, scratch))
    return chosen
