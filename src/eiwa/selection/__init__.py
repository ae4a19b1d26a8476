"""Choosing what to annotate next: the texts of a pool whose annotation should help a model most.

    from eiwa.selection import select, select_texts
    chosen = select(tagger, sentences, 100)              # indices into sentences, most useful first
    chosen = select_texts(tagger, texts, 100, exclude=done, strategy="random", seed=1)

`uncertainty` (the default) ranks units by how unsure the model's CRF is of them (least sequence
confidence, length-normalised, with the closest entity/no-entity decision: uncertainty.py) and
keeps the batch varied: among the 5n most uncertain distinct texts it picks greedily, each
candidate's uncertainty less `diversity` times its likeness (cosine of character-bigram TF-IDF) to
what is already picked (diversity.py); a second copy of a text comes after every other text.
`random` is a seeded uniform sample, the baseline. Strategies are a registry (strategies.py):
`STRATEGIES`.

`eiwa select` does the same from a file and writes the chosen texts with the model's entities as
Doccano or Label Studio pre-annotations (docs/ANNOTATION.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eiwa.doc import Sentence
from eiwa.selection.strategies import DIVERSITY, STRATEGIES, Pool, Strategy, choose, strategy

__all__ = ["select", "select_texts", "choose", "Pool", "STRATEGIES", "Strategy", "strategy", "DIVERSITY"]


def select(
    tagger,
    sentences: Sequence[Sentence],
    n: int,
    strategy: str = "uncertainty",
    seed: int = 0,
    exclude: Iterable[int] = (),
    diversity: float = DIVERSITY,
    batch_size: int = 64,
) -> list[int]:
    """The indices of the n pre-tokenized sentences (as readers give them) to annotate next, most
    useful first; never one of `exclude` (indices already annotated); all that are left when fewer
    than n are. A sentence without tokens comes last."""
    return choose(Pool(tagger, sentences, batch_size=batch_size), n, strategy, seed, exclude, diversity)


def select_texts(
    tagger,
    texts: Sequence[str],
    n: int,
    strategy: str = "uncertainty",
    seed: int = 0,
    exclude: Iterable[int] = (),
    diversity: float = DIVERSITY,
    split_sentences: bool = True,
    batch_size: int = 64,
) -> list[int]:
    """`select` for raw texts. A text is one unit (one task for the annotator), however long: it
    is split into sentences and tokenized as `eiwa predict` tags it (`split_sentences=False`: as one
    sentence), and scored over all its tokens together."""
    pool = Pool.from_texts(tagger, texts, split_sentences, batch_size)
    return choose(pool, n, strategy, seed, exclude, diversity)
