"""Training from data files: what `eiwa train` and `eiwa transfer` do, as one library function.

    from eiwa.training.run import Data, Output, train_files
    result = train_files(config, Data("train.conll", dev="dev.conll"), Output("models/en"))

It reads the data (a dev part held out when none is given), checks the output directory (an existing
model or an interrupted run is never overwritten by accident, and `resume` continues with the
checkpoint's own settings), holds the directory's lock, makes the start model(s) (build.py) and
trains: one model, the best of several candidates (`--modules auto`), or one model data-parallel.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eiwa.build import Start, describe_start, starts
from eiwa.config import Config
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.persist.atomic import check_writable, lock
from eiwa.persist.migrations import check_resumable
from eiwa.readers import read
from eiwa.tagger import Tagger
from eiwa.training import distributed
from eiwa.training.checkpoint import CHECKPOINT, checkpoint_config
from eiwa.training.train import TrainResult, split_off_dev, train

Log = Callable[[str], None]


@dataclass(frozen=True)
class Data:
    """Which data to train on and how to read it; `train` None for the installed Hironsan corpus."""

    train: str | Path | None
    dev: str | Path | None = None
    format: str = "conll"
    columns: Sequence[str] | None = None
    token_prefix: str | None = None

    def read(self, path: str | Path | None, lang: str, split_tokens: bool):
        return read(
            path, self.format, lang, columns=self.columns, token_prefix=self.token_prefix, split_tokens=split_tokens
        )


@dataclass(frozen=True)
class Output:
    """Where the model goes. `asked`: the settings the user named; with `resume` each must equal the
    checkpoint's, since the checkpoint's own settings are the ones that continue."""

    directory: str | Path
    resume: bool = False
    force: bool = False
    asked: frozenset[str] = field(default_factory=frozenset)


def train_files(
    config: Config,
    data: Data,
    output: Output,
    start: Start | None = None,
    device="cpu",
    nproc: int = 1,
    progress: bool = True,
    log: Log = print,
) -> TrainResult:
    """Read `data`, make the start model(s) (default: scratch) and train into `output`; returns the best
    model and its history."""
    start = start or Start()
    directory = Path(output.directory)
    if distributed.launched_by_torchrun():  # every process runs this; rank 0 alone writes
        if nproc > 1:
            raise EiwaError("under torchrun, leave out --nproc: torchrun starts the processes")
        with distributed.joined(str(device)) as (group, local_device):
            if group.leader:
                check_writable(directory, "the model")
            leader_log = log if group.leader else (lambda _: None)
            with lock(directory) if group.leader else contextlib.nullcontext():
                return _train_locked(
                    config, data, output, start, local_device, 1, progress and group.leader, leader_log
                )
    check_writable(directory, "the model")
    with lock(directory):
        return _train_locked(config, data, output, start, device, nproc, progress, log)


def _train_locked(
    config, data: Data, output: Output, start: Start, device, nproc: int, progress: bool, log: Log
) -> TrainResult:
    directory = Path(output.directory)
    check_output(directory, config, output)
    sentences, dev = training_data(config, data, log)
    log(f"training on {len(sentences)} sentences, dev {len(dev)}; writing {directory}")
    candidates = [] if output.resume or not start.sources else starts(start, config, sentences, log)
    if not output.resume:
        log("config:\n" + (candidates[-1].config if candidates else config).describe())
    if len(candidates) > 1:
        if nproc > 1:
            raise EiwaError("--nproc trains one model: not with --modules auto")
        result = train_best(
            config, sentences, dev, candidates, out=directory, progress=progress, log=log, device=device
        )
        log(
            f"chose {result.tagger.meta['chosen']} (dev F1 {result.best_dev_f1:.4f}); {len(candidates)} "
            f"candidates trained in {result.seconds:.0f} s"
        )
        return result
    tagger = candidates[0] if candidates else None
    if nproc > 1:  # data-parallel over nproc processes; rank 0 writes the model, which is read back here
        distributed.run(
            nproc,
            train,
            config,
            sentences,
            dev,
            out=directory,
            resume=output.resume,
            tagger=tagger,
            progress=progress,
            device=str(device),
        )
        return _saved_result(directory)
    return train(
        config,
        sentences,
        dev,
        out=directory,
        resume=output.resume,
        tagger=tagger,
        progress=progress,
        log=log,
        device=device,
    )


def check_output(directory: Path, config: Config, output: Output) -> None:
    """An existing model or interrupted run is kept unless asked otherwise; a resume continues as saved."""
    checkpoint = directory / CHECKPOINT
    if not (output.resume or output.force):
        if checkpoint.exists():
            raise EiwaError(
                f"{directory} holds the checkpoint of an interrupted run: use --resume to continue it "
                "or --force to start over"
            )
        if (directory / "meta.json").exists():
            raise EiwaError(
                f"{directory} already holds a model: use --force to overwrite it or --resume to continue training"
            )
    if output.resume:
        _check_resumable(directory, config, output.asked)


def _check_resumable(directory: Path, config: Config, asked: frozenset[str]) -> None:
    check_resumable(directory, directory / CHECKPOINT)
    if not (directory / CHECKPOINT).exists():
        raise EiwaError(f"--resume: no checkpoint in {directory} to resume from")
    saved = checkpoint_config(directory / CHECKPOINT).to_dict()
    if saved["transferred"]:  # a transferred model's architecture is its source's, not its --config's
        from eiwa.crosslingual.starts import ARCHITECTURE

        asked = {name for name in asked if not any(name in keys for keys in ARCHITECTURE.values())}
    wanted = config.to_dict()
    differ = [
        f"{name} {saved[name]!r} (asked {wanted[name]!r})"
        for name in sorted(asked)
        if name in wanted and wanted[name] != saved[name]
    ]
    if differ:
        raise EiwaError(
            f"--resume continues with the checkpoint's settings, which differ from those given: "
            f"{'; '.join(differ)}; drop them, or start over with --force"
        )


def training_data(config: Config, data: Data, log: Log = print) -> tuple[list[Sentence], list[Sentence]]:
    """The training and dev sentences: dev from its own file, else every k-th training sentence."""
    corpus = data.read(data.train, config.lang, split_tokens=True)
    if corpus.token_splits:
        log(f"split {corpus.token_splits} tokens at entity boundaries so that no training entity is lost")
    if overlapping := corpus.overlapping_entities():
        log(
            f"{overlapping} gold entities overlap an earlier one and are left out of training "
            "(flat tags cannot hold nested entities)"
        )
    sentences = corpus.sentences
    if data.dev:
        dev = data.read(data.dev, config.lang, split_tokens=False).sentences
    elif config.dev_fraction > 0:
        sentences, dev = split_off_dev(sentences, config.dev_fraction)
        log(f"dev: every {round(1 / config.dev_fraction)}th training sentence ({len(dev)} sentences)")
    else:
        raise EiwaError("no dev data for early stopping: give --dev or keep dev_fraction above 0")
    if not any(s.entities for s in sentences):
        raise EiwaError("the training data has no entities: is the tag column right (see --columns)?")
    return sentences, dev


# `--modules auto` keeps its first candidate (the default start) unless another beats it on dev by more
# than chance: a paired approximate-randomization test over the dev sentences, each of the k other
# candidates at SIGNIFICANCE / k (Bonferroni), so that noise replaces the default at most 5% of the
# time. On a hundred dev sentences, dev F1 differences of a point or two are within what another
# draw of the sentences would give, and choosing on them picks noise.
SIGNIFICANCE = 0.05


@dataclass
class _Tried:
    result: TrainResult
    name: str
    counts: np.ndarray  # [dev sentences, 3]: true positives, predicted, gold
    f1: float


def train_best(
    config: Config,
    train_part: Sequence[Sentence],
    dev_part: Sequence[Sentence],
    start: Tagger | list[Tagger] | None,
    out=None,
    progress: bool = False,
    log=lambda _: None,
    device: str = "cpu",
):
    """Train `start` (None: a fresh tagger); a list of candidates (the first is the default): train
    each and keep the default unless another is better on dev beyond chance (`SIGNIFICANCE`), recording
    the choice, every candidate's dev F1 and the test in the model's meta ("chosen", "candidates",
    "auto"). The result's `seconds` is then the whole run's, every candidate's training included."""
    if not isinstance(start, list):
        return train(config, train_part, dev_part, tagger=start, out=out, progress=progress, log=log, device=device)
    started = time.perf_counter()
    tried = []
    for candidate in start:
        result = train(config, train_part, dev_part, tagger=candidate, progress=progress, log=log, device=device)
        tried.append(_dev_counts(result, describe_start(candidate), dev_part))
        log(f"candidate {tried[-1].name}: dev F1 {tried[-1].f1:.4f} ({result.seconds:.0f} s)")
    chosen, tests = _choose(tried, log)
    best = chosen.result
    seconds = time.perf_counter() - started
    best.tagger.meta["chosen"] = chosen.name
    best.tagger.meta["candidates"] = [
        {"start": t.name, "dev_f1": t.f1, "seconds": round(t.result.seconds, 1), **test}
        for t, test in zip(tried, tests)
    ]
    best.tagger.meta["auto"] = {
        "default": tried[0].name,
        "dev_sentences": len(dev_part),
        "dev_entities": int(tried[0].counts[:, 2].sum()),
        "significance": SIGNIFICANCE,
        "seconds": round(seconds, 1),
    }
    if out is not None:
        best.tagger.save(
            out,
            training={
                "best_dev_f1": best.best_dev_f1,
                "best_epoch": best.best_epoch,
                "epochs": best.epochs,
                "seconds": best.seconds,
            },
        )
    return replace(best, seconds=seconds)


def _dev_counts(result: TrainResult, name: str, dev_part: Sequence[Sentence]) -> _Tried:
    from eiwa.study.stats import micro_f1, sentence_counts  # plain numpy: the statistics the study reports

    predicted = result.tagger.tag_sentences(dev_part)
    counts = np.array(
        [
            sentence_counts((e.as_tuple() for e in s.entities), (e.as_tuple() for e in p))
            for s, p in zip(dev_part, predicted)
        ],
        dtype=np.int64,
    ).reshape(-1, 3)
    return _Tried(result, name, counts, micro_f1(counts) if len(counts) else 0.0)


def _choose(tried: list[_Tried], log) -> tuple[_Tried, list[dict]]:
    """The default (first) candidate, or the best on dev of those beating it beyond chance; per
    candidate, its dev F1 difference from the default and p (none for the default itself)."""
    from eiwa.study.stats import approximate_randomization

    default, others = tried[0], tried[1:]
    level = SIGNIFICANCE / max(1, len(others))
    tests, winners = [{}], []
    for other in others:
        p = approximate_randomization(other.counts, default.counts) if len(default.counts) else 1.0
        tests.append({"difference": round(other.f1 - default.f1, 4), "p": round(p, 4)})
        if other.f1 > default.f1 and p < level:
            winners.append((other, p))
    dev = f"{len(default.counts)} dev sentences, {int(default.counts[:, 2].sum()):,} entities"
    if not winners:
        log(
            f"--modules auto keeps the default {default.name}: no other candidate beats its dev F1 "
            f"{default.f1:.4f} beyond chance ({dev}; paired approximate randomization, p < {level:.4f} needed)"
        )
        return default, tests
    best, p = max(winners, key=lambda pair: pair[0].f1)
    log(
        f"--modules auto chose {best.name}: dev F1 {best.f1:.4f} against the default's {default.f1:.4f} "
        f"(paired approximate randomization p = {p:.4f} < {level:.4f}; {dev})"
    )
    return best, tests


def _saved_result(directory: Path) -> TrainResult:
    tagger = Tagger.load(directory)
    summary = tagger.meta["training"]
    return TrainResult(tagger, summary["best_dev_f1"], summary["best_epoch"], summary["epochs"], summary["seconds"])
