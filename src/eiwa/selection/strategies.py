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
from eiwa.tagger import one_ahead
from eiwa.tokenize import document_sentences

DIVERSITY = 1.0  # the default weight of likeness to what is already chosen (0: none)
CANDIDATES_PER_PICK = 5  # diversity chooses among the 5n most uncertain units
CHUNK = 4096  # units scored at a time


class Pool:
    """Units to choose from, each with a text that stands for it (compared for diversity): raw texts
    (`from_texts`: a unit is a text, split into sentences and tokenized as `eiwa predict` does) or
    pre-tokenized sentences (a unit is a sentence). Units are scored a chunk at a time, the next
    chunk tokenized while the model scores the current one, so memory stays bounded."""

    def __init__(
        self,
        tagger,
        sentences: Sequence[Sentence] | None = None,
        texts: Sequence[str] | None = None,
        split_sentences: bool = True,
        batch_size: int = 64,
    ):
        self.tagger = tagger
        self.sentences = sentences
        self.texts = list(texts) if texts is not None else [s.text for s in sentences or []]
        self.split_sentences = split_sentences
        self.batch_size = batch_size

    @classmethod
    def from_texts(cls, tagger, texts: Sequence[str], split_sentences: bool = True, batch_size: int = 64) -> Pool:
        for text in texts:
            if not isinstance(text, str):
                raise EiwaError(f"texts must be strings, got {type(text).__name__}")
        return cls(tagger, texts=texts, split_sentences=split_sentences, batch_size=batch_size)

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def uncertainty(self) -> np.ndarray:
        """Every unit's uncertainty (uncertainty.py; NaN for a unit with no tokens)."""
        starts = range(0, len(self), CHUNK)
        scores = list(one_ahead(starts, self._prepare, self._score))
        return np.concatenate(scores) if scores else np.zeros(0)

    def _prepare(self, start: int) -> tuple[list[Sentence], list[int] | None, object]:
        """A chunk's sentences, how many each unit holds (None: one each), and their encoding."""
        if self.sentences is not None:
            sentences, sizes = list(self.sentences[start : start + CHUNK]), None
        else:
            lang = self.tagger.config.lang
            texts = self.texts[start : start + CHUNK]
            spans, sentences = document_sentences(texts, lang, split=self.split_sentences)
            sizes = list(map(len, spans))
        return sentences, sizes, self.tagger.encoder.encode(sentences, with_tags=False)

    def _score(self, prepared) -> np.ndarray:
        sentences, sizes, encoded = prepared
        marginals = self.tagger.marginals(sentences, self.batch_size, encoded) if sentences else []
        return unit_uncertainty(marginals, self.tagger.encoder.tags.ids["O"], sizes)


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
    if diversity:
        # A second copy of a text is never worth annotating while another text is left.
        first = _first_copies(ranked, pool.texts)
        candidates, rest = ranked[first][: n * CANDIDATES_PER_PICK], ranked[~first]
    else:
        candidates, rest = ranked[:n], ranked[n:]
    picks = diverse_order(pool.uncertainty[candidates], [pool.texts[i] for i in candidates], n, diversity)
    return [*candidates[picks].tolist(), *rest.tolist(), *available[~scored].tolist()][:n]


def _first_copies(indices: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Whether each of `indices` is the first, in that order, to hold its text."""
    seen: set[str] = set()
    first = np.zeros(len(indices), dtype=bool)
    for position, index in enumerate(indices.tolist()):
        if texts[index] not in seen:
            seen.add(texts[index])
            first[position] = True
    return first


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
