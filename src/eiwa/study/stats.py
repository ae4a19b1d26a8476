"""The statistics of a study: micro F1 from per-sentence counts, the paired approximate-randomization
test, and mean ± sample standard deviation over seeds."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

import numpy as np


def sentence_counts(gold: Iterable, predicted: Iterable) -> tuple[int, int, int]:
    """(true positives, predicted, gold) entities of one sentence: what micro F1 and the test pool."""
    gold, predicted = set(gold), set(predicted)
    return (len(gold & predicted), len(predicted), len(gold))


def micro_f1(counts: np.ndarray) -> float:
    """Micro F1 of [sentences, 3] counts (true positives, predicted, gold)."""
    tp, predicted, gold = counts.sum(axis=0)
    return 0.0 if tp == 0 else 2 * tp / (predicted + gold)


def approximate_randomization(a: np.ndarray, b: np.ndarray, trials: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value for the F1 difference of two systems on the same sentences.

    a and b are [sentences, 3] arrays of (true positives, predicted, gold); each trial swaps the
    two systems' outputs on a random half of the sentences (Noreen 1989; Yeh 2000).
    """
    observed = abs(micro_f1(a) - micro_f1(b))
    rng = np.random.default_rng(seed)
    swap = rng.random((trials, len(a))) < 0.5  # [trials, sentences]
    a_sums = np.where(swap[..., None], b, a).sum(axis=1)  # [trials, 3]
    b_sums = np.where(swap[..., None], a, b).sum(axis=1)

    def f1(sums):
        return np.where(sums[:, 0] > 0, 2 * sums[:, 0] / np.maximum(sums[:, 1] + sums[:, 2], 1), 0.0)

    at_least = np.sum(np.abs(f1(a_sums) - f1(b_sums)) >= observed - 1e-12)
    return float((at_least + 1) / (trials + 1))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (0.0 for a single seed)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
