"""The pool to choose from, the registry of selection strategies, and `choose`.

A strategy is a function `(pool, available, n, seed, diversity) -> indices`, registered with
`@strategy(name, help)`: `available` are the pool's indices not excluded (ascending), and it
returns up to n of them, most useful first. The CLI's `--strategy` choices and the error that
lists strategies read `STRATEGIES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.selection.diversity import diverse_order
from eiwa.selection.uncertainty import unit_uncertainty
from eiwa.tokenize import tokenizer_for
from eiwa.tokenize.sentences import document_spans

DIVERSITY = 1.0  # the default weight of likeness to what is already chosen (0: none): a copy of a chosen text goes last
CANDIDATES_PER_PICK = 5  # diversity chooses among the 5n most uncertain units


class Pool:
    """Units to choose from: each unit is one or more consecutive tokenized sentences (a text split
    into sentences) and a text that stands for it (compared for diversity)."""

    def __init__(self, tagger, sentences: Sequence[Sentence], unit_sizes=None, texts=None, batch_size: int = 64):
        self.tagger = tagger
        self.sentences = sentences
        self.unit_sizes = None if unit_sizes is None else np.asarray(unit_sizes, np.int64)
        self.texts = list(texts) if texts is not None else [s.text for s in sentences]
        self.batch_size = batch_size

    @classmethod
    def from_texts(cls, tagger, texts: Sequence[str], split_sentences: bool = True, batch_size: int = 64) -> Pool:
        """Raw texts, one unit each: split into sentences and tokenized as `eiwa predict` does."""
        for text in texts:
            if not isinstance(text, str):
                raise EiwaError(f"texts must be strings, got {type(text).__name__}")
        lang = tagger.config.lang
        spans = [document_spans(text, lang, split_sentences) for text in texts]
        pieces = [text[start:end] for text, found in zip(texts, spans) for start, end in found]
        sentences = tokenizer_for(lang).sentences(pieces)
        return cls(tagger, sentences, list(map(len, spans)), texts, batch_size)

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def uncertainty(self) -> np.ndarray:
        """Every unit's uncertainty (uncertainty.py; NaN for a unit with no tokens)."""
        marginals = self.tagger.marginals(self.sentences, self.batch_size) if self.sentences else []
        return unit_uncertainty(marginals, self.tagger.encoder.tags.ids["O"], self.unit_sizes)


@dataclass(frozen=True)
class Strategy:
    name: str
    help: str
    choose: Callable[..., list[int]]


STRATEGIES: dict[str, Strategy] = {}


def strategy(name: str, help: str):
    def register(function):
        STRATEGIES[name] = Strategy(name, help, function)
        return function

    return register


@strategy("random", "a uniform sample (seeded): the baseline")
def _random(pool: Pool, available: np.ndarray, n: int, seed: int, diversity: float) -> list[int]:
    rng = np.random.default_rng(seed)
    return rng.choice(available, size=min(n, len(available)), replace=False).tolist()


@strategy("uncertainty", "the units the model is least sure of (CRF marginals), kept varied by --diversity")
def _uncertainty(pool: Pool, available: np.ndarray, n: int, seed: int, diversity: float) -> list[int]:
    scores = pool.uncertainty[available]
    scored = ~np.isnan(scores)
    # Most uncertain first (ties: pool order); units without tokens come after all others.
    ranked = available[scored][np.argsort(-scores[scored], kind="stable")]
    candidates = ranked[: n * CANDIDATES_PER_PICK] if diversity else ranked[:n]
    picks = diverse_order(pool.uncertainty[candidates], [pool.texts[i] for i in candidates], n, diversity)
    return [*candidates[picks].tolist(), *available[~scored][: n - len(picks)].tolist()]


def choose(
    pool: Pool,
    n: int,
    strategy: str = "uncertainty",
    seed: int = 0,
    exclude: Iterable[int] = (),
    diversity: float = DIVERSITY,
) -> list[int]:
    """The indices of the n units of `pool` to annotate next, most useful first, none of `exclude`;
    all that are left when fewer than n are."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise EiwaError(f"n must be a whole number of at least 1, got {n!r}")
    if strategy not in STRATEGIES:
        raise EiwaError(f"unknown selection strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if not diversity >= 0:
        raise EiwaError(f"diversity must be 0 or more, got {diversity!r}")
    if len(pool) == 0:
        raise EiwaError("the pool is empty: nothing to select from")
    excluded = np.asarray(sorted(set(exclude)), np.int64)
    if len(excluded) and (excluded[0] < 0 or excluded[-1] >= len(pool)):
        wrong = excluded[0] if excluded[0] < 0 else excluded[-1]
        raise EiwaError(f"exclude: index {wrong} is not in a pool of {len(pool)}")
    available = np.setdiff1d(np.arange(len(pool)), excluded)
    if not len(available):
        return []
    return STRATEGIES[strategy].choose(pool, available, int(n), seed=seed, diversity=float(diversity))
