"""k-fold cross-validation over seeds, following the shared protocol.

Fold k holds the sentences whose position i in the data satisfies i % folds == k. For each seed,
every fold is tagged by a model trained on the other folds (with a tenth of them held out for
early stopping), and precision, recall and F1 are computed once over the pooled predictions of all
test folds. The seeds' pooled F1 values are then summarised as mean and sample standard deviation.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Callable, Sequence

from .config import Config
from .data import Sentence
from .scoring import score
from .tagger import Tagger
from .train import split_off_dev, train

# (config, training sentences) -> a tagger to train; None trains a fresh one.
TaggerFactory = Callable[[Config, Sequence[Sentence]], Tagger]


def fold_of(index: int, folds: int) -> int:
    return index % folds


def cross_validate(
    config: Config,
    train_view: Sequence[Sentence],
    test_view: Sequence[Sentence] | None = None,
    folds: int = 5,
    seeds: Sequence[int] = (1, 2, 3),
    make_tagger: TaggerFactory | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Pooled k-fold scores per seed.

    `train_view` and `test_view` are the same sentences in the same order; they differ only for
    raw-text data, where training sentences have tokens split at entity boundaries and test
    sentences are tokenized plainly. For token data pass the same list (or leave test_view out).
    """
    test_view = train_view if test_view is None else test_view
    if len(test_view) != len(train_view):
        raise ValueError("train_view and test_view must hold the same sentences")
    if folds < 2 or folds > len(train_view):
        raise ValueError(f"folds must be between 2 and the number of sentences ({len(train_view)}), got {folds}")
    per_seed = []
    for seed in seeds:
        seeded = replace(config, seed=seed)
        gold, predicted = [], []
        for fold in range(folds):
            rest = [s for i, s in enumerate(train_view) if fold_of(i, folds) != fold]
            test = [s for i, s in enumerate(test_view) if fold_of(i, folds) == fold]
            train_part, dev_part = split_off_dev(rest, seeded.dev_fraction)
            start = make_tagger(seeded, train_part) if make_tagger else None
            result = train(seeded, train_part, dev_part, tagger=start, progress=False, log=lambda _: None)
            fold_gold = [[e.as_tuple() for e in s.entities] for s in test]
            fold_predicted = [[e.as_tuple() for e in spans] for spans in result.tagger.tag_sentences(test)]
            log(f"seed {seed} fold {fold + 1}/{folds}: F1 {score(fold_gold, fold_predicted).f1:.4f} "
                f"(best epoch {result.best_epoch}/{result.epochs}, {result.seconds:.0f} s)")
            gold += fold_gold
            predicted += fold_predicted
        pooled = score(gold, predicted)
        log(f"seed {seed}: pooled P {pooled.precision:.4f} R {pooled.recall:.4f} F1 {pooled.f1:.4f}")
        per_seed.append({"seed": seed, **pooled.to_dict()})
    f1s = [entry["f1"] for entry in per_seed]
    return {
        "folds": folds,
        "seeds": list(seeds),
        "f1_mean": statistics.fmean(f1s),
        "f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
        "per_seed": per_seed,
        "config": config.to_dict(),
    }
