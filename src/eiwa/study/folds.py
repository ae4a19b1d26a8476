"""Which sentences train, select and test: the index rules of the shared evaluation protocol
(../shared/data/README.md), so that every number eiwa reports is on the same sentences."""

from __future__ import annotations

# (training, dev or None, test) sentence indices; dev None: hold out a tenth of training for early stopping.
Split = tuple[list[int], list[int] | None, list[int]]


def kfold_splits(count: int, folds: int) -> list[Split]:
    """Fold k tests the sentences at positions i with i % folds == k and trains on the rest."""
    return [
        ([i for i in range(count) if i % folds != k], None, [i for i in range(count) if i % folds == k])
        for k in range(folds)
    ]


def shared_split(count: int, every: int = 10, dev: int = 8, test: int = 9) -> Split:
    """The fixed split: sentence i is dev when i % every == dev, test when i % every == test, training
    otherwise. The defaults are the shared protocol's rule for the Stockmark set."""
    return (
        [i for i in range(count) if i % every not in (dev, test)],
        [i for i in range(count) if i % every == dev],
        [i for i in range(count) if i % every == test],
    )


def protocol_splits(protocol: str, count: int, folds: int) -> list[Split]:
    """An experiment's splits: `kfold` (pooled over the folds) or `split` (the one fixed split)."""
    if protocol == "split":
        return [shared_split(count)]
    return kfold_splits(count, folds)
