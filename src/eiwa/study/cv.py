"""k-fold cross-validation over seeds, following the shared protocol.

Fold k holds the sentences whose position i in the data satisfies i % folds == k. For each seed,
every fold is tagged by a model trained on the other folds (with a tenth of them held out for
early stopping), and precision, recall and F1 are computed once over the pooled predictions of all
test folds. The seeds' pooled F1 values are then summarised as mean and sample standard deviation.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from eiwa import build
from eiwa.build import Start
from eiwa.config import Config
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.readers import raw_text
from eiwa.scoring import score
from eiwa.study.folds import Split, kfold_splits
from eiwa.study.stats import mean_std
from eiwa.tagger import Tagger
from eiwa.training.run import Data, settle, train_best
from eiwa.training.train import split_off_dev

# (config, training sentences) -> a tagger to train, or a list of candidate start models (each is
# trained, and the one with the best dev F1 kept: --modules auto); None trains a fresh one.
TaggerFactory = Callable[[Config, Sequence[Sentence]], "Tagger | list[Tagger]"]


def cross_validate(
    config: Config,
    train_view: Sequence[Sentence],
    test_view: Sequence[Sentence] | None = None,
    folds: int = 5,
    seeds: Sequence[int] = (1, 2, 3),
    make_tagger: TaggerFactory | None = None,
    log: Callable[[str], None] = print,
    device: str = "cpu",
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
    splits = kfold_splits(len(train_view), folds)
    per_seed = []
    for seed in seeds:
        gold, predicted, dev_f1s = run_splits(
            replace(config, seed=seed),
            train_view,
            test_view,
            splits,
            make_tagger,
            log=log,
            label=f"seed {seed} ",
            device=device,
        )
        pooled = score(gold, predicted)
        log(f"seed {seed}: pooled P {pooled.precision:.4f} R {pooled.recall:.4f} F1 {pooled.f1:.4f}")
        per_seed.append({"seed": seed, **pooled.to_dict(), "dev_f1": statistics.fmean(dev_f1s)})
    f1_mean, f1_std = mean_std([entry["f1"] for entry in per_seed])
    return {
        "folds": folds,
        "seeds": list(seeds),
        "f1_mean": f1_mean,
        "f1_std": f1_std,
        "per_seed": per_seed,
        "config": config.to_dict(),
    }


def run_splits(
    config: Config,
    train_view: Sequence[Sentence],
    test_view: Sequence[Sentence],
    splits: Sequence[Split],
    make_tagger: TaggerFactory | None = None,
    size: int | None = None,
    log: Callable[[str], None] = print,
    label: str = "",
    chosen: list[str] | None = None,
    device: str = "cpu",
) -> tuple[list[list[tuple]], list[list[tuple]], list[float]]:
    """Train on each split's training part (its first `size` sentences; size 0 tags with
    make_tagger's model untrained) and tag its test part. Returns the gold and predicted character
    spans of every test sentence, in split order, for pooled scoring, and each split's best dev F1
    (what settings are chosen on; none for size 0). With candidate start models (a list from
    make_tagger), each split keeps the best on its dev part, and `chosen` gets its description."""
    if size == 0 and make_tagger is None:
        raise ValueError("size 0 tags with make_tagger's untrained model, but there is no make_tagger")
    gold, predicted, dev_f1s = [], [], []
    for part, split in enumerate(splits, start=1):
        started = time.perf_counter()
        train_part, dev_part, test = _parts(config, train_view, test_view, split, size)
        start = make_tagger(config, train_part) if make_tagger else None
        tagger, note, dev_f1 = _fit(config, start, train_part, dev_part, size, chosen, device)
        if dev_f1 is not None:
            dev_f1s.append(dev_f1)
        part_gold = [[e.as_tuple() for e in s.entities] for s in test]
        part_predicted = [[e.as_tuple() for e in spans] for spans in tagger.tag_sentences(test)]
        if len(splits) > 1:
            log(
                f"{label}fold {part}/{len(splits)}: F1 {score(part_gold, part_predicted).f1:.4f} "
                f"({note}, {time.perf_counter() - started:.0f} s)"
            )
        gold += part_gold
        predicted += part_predicted
    return gold, predicted, dev_f1s


def _parts(
    config: Config, train_view: Sequence[Sentence], test_view: Sequence[Sentence], split: Split, size: int | None
) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    """A split's training (its first `size` sentences), dev and test sentences; without a dev part,
    a tenth of training is held out for early stopping."""
    train_ids, dev_ids, test_ids = split
    train_part = [train_view[i] for i in (train_ids if size is None else train_ids[:size])]
    if dev_ids is None:
        train_part, dev_part = split_off_dev(train_part, config.dev_fraction)
    else:
        dev_part = [test_view[i] for i in dev_ids]
    return train_part, dev_part, [test_view[i] for i in test_ids]


def _fit(
    config: Config,
    start: Tagger | list[Tagger] | None,
    train_part: Sequence[Sentence],
    dev_part: Sequence[Sentence],
    size: int | None,
    chosen: list[str] | None,
    device: str,
) -> tuple[Tagger, str, float | None]:
    """A split's tagger, a note for the log on how it was made, and its best dev F1 (None untrained)."""
    if size == 0:
        if isinstance(start, list):
            raise ValueError("size 0 (zero-shot) has no dev data to choose among candidate start models")
        start.to(device)
        return start, "untrained", None  # zero-shot: the start model as it is
    result = train_best(config, train_part, dev_part, start, device=device)
    note = f"best epoch {result.best_epoch}/{result.epochs}"
    if result.tagger.meta.get("chosen"):
        note += f", chose {result.tagger.meta['chosen']}"
        if chosen is not None:
            chosen.append(result.tagger.meta["chosen"])
    return result.tagger, note, result.best_dev_f1


def cross_validate_files(
    config: Config,
    data: Data,
    folds: int = 5,
    seeds: Sequence[int] = (1, 2, 3),
    start: Start | None = None,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> dict:
    """`cross_validate` on a data file: raw-text formats are scored on their own, plainly tokenized view."""
    data, _ = settle(data, config.lang, log)
    train_view = data.read(data.train, config.lang, split_tokens=True).sentences
    test_view = data.read(data.train, config.lang, split_tokens=False).sentences if raw_text(data.format) else None
    if len(train_view) < 2:
        where = data.train or data.format
        raise EiwaError(f"{where}: cross-validation needs at least 2 sentences, got {len(train_view)}")
    if folds < 2 or folds > len(train_view):
        raise EiwaError(f"--folds must be between 2 and {len(train_view)} (the sentences), got {folds}")
    make_tagger = factory(start) if start is not None and start.sources else None
    return cross_validate(config, train_view, test_view, folds, seeds, make_tagger, log, device)


def factory(start: Start) -> TaggerFactory:
    """What each split trains from: the start's one model, or with `auto` its candidates (each trained,
    the best on dev kept)."""

    def make(config: Config, sentences: Sequence[Sentence]):
        candidates = build.starts(start, config, sentences)  # looked up at call time: tests may replace it
        return candidates if start.auto else candidates[0]

    return make
