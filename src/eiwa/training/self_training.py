"""Rounds of teaching: gold sentences plus unlabelled text, as `eiwa train|transfer --unlabelled` runs them.

    result = train_with_unlabelled(config, gold, dev, unlabelled_sentences, teachers=[], start=None)

Without a teacher, round 0 trains on the gold sentences alone and that model teaches (self-training).
Each round trains a new student from `start` (a fresh model, or a copy of the transferred start) on
the gold sentences and what the round's teachers say of the unlabelled text (unlabelled.py); the
next round is taught by that student. With an output directory, each round before the last is saved
beside it (`<out>.rounds/round-<k>`), so that `resume` goes on from the round that was interrupted;
that directory is removed when the last round ends.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from eiwa.config import Config
from eiwa.doc import Sentence, entity_types
from eiwa.errors import EiwaError
from eiwa.persist.model_dir import is_model_directory
from eiwa.tagger import Tagger
from eiwa.training.checkpoint import CHECKPOINT
from eiwa.training.train import TrainResult, train
from eiwa.training.unlabelled import check_teachers, teach

Log = Callable[[str], None]


def train_with_unlabelled(
    config: Config,
    train_sentences: Sequence[Sentence],
    dev_sentences: Sequence[Sentence],
    unlabelled_sentences: Sequence[Sentence],
    teachers: Sequence[Tagger] = (),
    start: Tagger | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    log: Log | None = None,
    device: str = "cpu",
    warn: Log | None = None,
) -> TrainResult:
    """The last round's student, its meta holding each round's dev F1 and target counts."""
    log = log or print
    if not unlabelled_sentences:
        raise EiwaError("the unlabelled text holds no sentences")
    teachers = list(teachers)
    check_teachers(teachers, entity_types(train_sentences))
    rounds = _Rounds(Path(out) if out is not None else None, config.self_training_rounds)
    options = {"progress": progress, "log": log, "device": device, "warn": warn}
    history = []
    if not teachers:
        if not any(s.entities for s in train_sentences):
            raise EiwaError("self-training needs gold entities to learn from first, or a teacher (--teacher MODEL)")
        log("round 0: training on the gold sentences alone; that model then teaches the unlabelled text")
        teachers = [rounds.run(0, resume, config, train_sentences, dev_sentences, _copy(start), None, options)]
        history.append({"round": 0, "dev_f1": round(teachers[0].meta["training"]["best_dev_f1"], 4)})
    for number in range(1, config.self_training_rounds + 1):
        teaching = teach(teachers, unlabelled_sentences)
        student = rounds.run(number, resume, config, train_sentences, dev_sentences, _copy(start), teaching, options)
        counts = teaching.counts(student.encoder.tags.items, config)
        history.append({"round": number, "dev_f1": round(student.meta["training"]["best_dev_f1"], 4), **counts})
        log(
            f"round {number}: {len(teachers)} teacher(s) on {counts['sentences']} unlabelled sentences, "
            f"{counts['kept']} kept as {config.pseudo_labels} targets, {counts['entities']} entities; "
            f"dev F1 {history[-1]['dev_f1']:.4f}"
        )
        teachers = [student]
    return rounds.finish(history)


def _copy(start: Tagger | None) -> Tagger | None:
    return copy.deepcopy(start) if start is not None else None


class _Rounds:
    """Where each round's model goes, and what a resumed run finds there."""

    def __init__(self, out: Path | None, last: int):
        self.out, self.last = out, last
        self.results: list[TrainResult] = []

    def directory(self, number: int) -> Path | None:
        if self.out is None:
            return None
        return self.out if number == self.last else self.out.parent / f"{self.out.name}.rounds" / f"round-{number}"

    def run(self, number, resume, config, gold, dev, start, teaching, options) -> Tagger:
        directory = self.directory(number)
        finished = directory is not None and is_model_directory(directory) and not (directory / CHECKPOINT).exists()
        if resume and finished and number < self.last:
            options["log"](f"round {number}: done before, read from {directory}")
            tagger = Tagger.load(directory)
            self.results.append(None)
            return tagger
        again = resume and directory is not None and (directory / CHECKPOINT).exists()
        if directory is not None and not again and number < self.last:
            shutil.rmtree(directory, ignore_errors=True)  # an unfinished round of an earlier run, started over
        result = train(config, gold, dev, out=directory, resume=again, tagger=start, unlabelled=teaching, **options)
        result.tagger.meta.setdefault("training", {"best_dev_f1": result.best_dev_f1})
        self.results.append(result)
        return result.tagger

    def finish(self, history: list[dict]) -> TrainResult:
        result = self.results[-1]
        result.tagger.meta["self_training"] = history
        if self.out is not None:
            shutil.rmtree(self.out.parent / f"{self.out.name}.rounds", ignore_errors=True)
        return result
