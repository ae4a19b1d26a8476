"""How unsure a model is of a text: one score per unit (a sentence, or a text's sentences together)
from the CRF's exact token marginals (`Tagger.marginals`).

Two terms, each in [0, 1], and the score is their mean:

* **least confidence, length-normalised**: `1 - exp(mean over tokens of log max_tag P(tag))`, one
  minus the geometric mean of each token's most probable tag. It is the token-marginal form of
  Shen et al.'s normalised sequence log-probability (MNLP): the mean of logs keeps a long text from
  looking unsure merely for being long, and, unlike the arithmetic mean, one doubtful token among
  many sure ones still lowers it.
* **entity margin**: the closest entity/no-entity decision of the unit, `max over tokens of
  1 - |P(O) - (1 - P(O))|`: 1 where a token is as likely inside an entity as outside, 0 where the
  model is sure either way. Least confidence also counts doubts between two entity types or tag
  positions; this term asks for the decision an annotator makes first, whether there is an entity.

A unit with no tokens (a blank text) has no score: NaN, ranked after every other unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def unit_uncertainty(marginals: Sequence[np.ndarray], outside: int, unit_sizes: np.ndarray | None = None) -> np.ndarray:
    """The uncertainty of each unit (float64; NaN for a unit without tokens). `marginals` are the
    sentences' [tokens, tags] arrays in order; `unit_sizes[u]` says how many consecutive sentences
    unit u holds (None: each sentence is a unit); `outside` is the column of the tag O."""
    lengths = np.fromiter(map(len, marginals), np.int64, len(marginals))
    if unit_sizes is None:
        unit_lengths = lengths
    else:
        sentence_unit = np.repeat(np.arange(len(unit_sizes)), unit_sizes)
        unit_lengths = np.bincount(sentence_unit, weights=lengths, minlength=len(unit_sizes)).astype(np.int64)
    scores = np.full(len(unit_lengths), np.nan)
    filled = unit_lengths > 0
    if not filled.any():
        return scores
    tokens = np.concatenate([m for m in marginals if len(m)]).astype(np.float64)
    starts = np.concatenate(([0], np.cumsum(unit_lengths[filled])[:-1]))
    log_best = np.log(np.maximum(tokens.max(axis=1), np.finfo(np.float64).tiny))
    mean_log_best = np.add.reduceat(log_best, starts) / unit_lengths[filled]
    entity_doubt = 1.0 - np.abs(2.0 * tokens[:, outside] - 1.0)
    least_confidence = 1.0 - np.exp(mean_log_best)
    # float32 marginals may stray past 1 by a rounding error: the terms stay in [0, 1].
    scores[filled] = np.clip((least_confidence + np.maximum.reduceat(entity_doubt, starts)) / 2.0, 0.0, 1.0)
    return scores
