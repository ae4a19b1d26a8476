"""`train`: a training run with early stopping on dev F1, as `eiwa train` and the studies start it.

It consumes the loop (loop.py) and does what the loop does not: builds or resumes the model, logs
each epoch, shows progress, and with an output directory saves the best model whenever dev F1
improves and a checkpoint (checkpoint.py) after every epoch. In a data-parallel group
(distributed.py) rank 0 alone logs and writes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from safetensors.torch import load_file

from eiwa.build import build
from eiwa.config import Config
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.persist.atomic import write_atomic
from eiwa.persist.files import readable_file
from eiwa.tagger import Tagger
from eiwa.training import distributed
from eiwa.training.checkpoint import CHECKPOINT, data_fingerprint, read_checkpoint, write_checkpoint
from eiwa.training.loop import Epoch, cap_warning, new_state, train_while_improving
from eiwa.training.optim import make_optimizer
from eiwa.training.progress import EpochBar
from eiwa.training.unlabelled import Teaching


@dataclass
class TrainResult:
    tagger: Tagger
    best_dev_f1: float
    best_epoch: int
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    # What the user should know about how the run ended (max_epochs cut it short): also in meta["training"].
    warnings: list[str] = field(default_factory=list)


def silent(_line: str) -> None:
    """A `log` that says nothing (--quiet); a module function, so that spawned processes can take it."""


def warn_on_stderr(line: str) -> None:
    """The default `warn`: what the user should act on, on stderr also under --quiet."""
    print(f"warning: {line}", file=sys.stderr, flush=True)


def split_off_dev(sentences: Sequence[Sentence], fraction: float) -> tuple[list[Sentence], list[Sentence]]:
    """Every k-th sentence (k = 1/fraction) becomes dev: deterministic, and spread over the file."""
    if fraction <= 0 or len(sentences) < 2:
        return list(sentences), []
    step = max(2, round(1 / fraction))
    train = [s for i, s in enumerate(sentences) if i % step != step - 1]
    dev = [s for i, s in enumerate(sentences) if i % step == step - 1]
    return train, dev


def train(
    config: Config,
    train_sentences: Sequence[Sentence],
    dev_sentences: Sequence[Sentence],
    out: str | Path | None = None,
    resume: bool = False,
    tagger: Tagger | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    device: str = "cpu",
    warn: Callable[[str], None] | None = None,
    unlabelled: Teaching | None = None,
) -> TrainResult:
    """Train (or fine-tune `tagger`) with early stopping on dev F1, on `device` (cpu, cuda, auto).

    With `out`, the best model is saved there whenever dev F1 improves, and a checkpoint after
    every epoch; with `resume`, training continues from that checkpoint. On the CPU a run is
    repeatable bit for bit; on a GPU, cuDNN's LSTM kernels are not deterministic, so two runs
    agree only to within rounding (and a resumed run likewise).

    `log` gets the progress lines, `warn` what the user should act on (default: both on stderr);
    a run that `max_epochs` ended while dev F1 was still improving is warned about and keeps the
    warning in its result and its meta.

    `unlabelled`: what teachers said of unlabelled sentences (unlabelled.teach), learnt beside the
    gold sentences; a new model's vocabularies then include the unlabelled sentences' words.
    """
    console = Console(stderr=True, soft_wrap=True)
    group = distributed.current()  # data-parallel training (--nproc): rank 0 alone scores, logs and writes
    leads = group is None or group.leader
    log = (log or (lambda line: console.print(line, highlight=False))) if leads else (lambda _: None)
    warn = (warn or warn_on_stderr) if leads else (lambda _: None)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    out = Path(out) if out is not None else None
    vocabulary_sentences = [*train_sentences, *(unlabelled.sentences if unlabelled else ())]
    tagger, optimizer, state = _begin(config, vocabulary_sentences, out, resume, tagger, log, device)
    _check_same_data(out, state, _fingerprints(train_sentences, dev_sentences, unlabelled))
    if not dev_sentences:
        raise EiwaError(
            f"no dev sentences for early stopping ({len(train_sentences)} training sentences): give dev data, "
            "or more training data to set dev sentences aside from"
        )
    train_data = tagger.encoder.encode(train_sentences)
    dev_data = tagger.encoder.encode(dev_sentences, with_tags=False)  # once: it is scored every epoch
    mixed = unlabelled.for_student(tagger, tagger.config) if unlabelled is not None else None
    best_weights = _best_so_far(tagger, out, resume)
    writer = None
    if out is not None and leads:
        writer = _ModelWriter(out, tagger, optimizer, state, len(train_sentences), len(dev_sentences))
    bar = EpochBar(console) if progress and leads and console.is_terminal else None
    with bar or nullcontext():
        epochs = train_while_improving(tagger, optimizer, train_data, dev_sentences, dev_data, state, group, bar, mixed)
        for epoch in epochs:
            if epoch.improved:
                best_weights = _copy_of_weights(tagger)
            log(_epoch_line(epoch, state))
            if writer is not None:
                writer.after_epoch(epoch.improved)
    tagger.model.load_state_dict(best_weights)
    tagger.model.eval()  # the result tags; training mode is set again by each epoch
    warnings = [note] if (note := cap_warning(state, tagger.config)) else []
    for line in warnings:
        warn(line)
    if writer is not None:
        writer.finish(warnings)
    return TrainResult(
        tagger, state["best_dev_f1"], state["best_epoch"], state["epoch"], state["seconds"], state["history"], warnings
    )


def _begin(
    config: Config,
    train_sentences: Sequence[Sentence],
    out: Path | None,
    resume: bool,
    tagger: Tagger | None,
    log: Callable[[str], None],
    device: str,
) -> tuple[Tagger, torch.optim.Optimizer, dict]:
    """(tagger on `device`, its optimizer, the loop's state): resumed from the checkpoint in `out`,
    or fresh, with `tagger` (default: a new model) to train."""
    if resume:
        checkpoint = out / CHECKPOINT if out is not None else None
        if checkpoint is None or not checkpoint.exists():
            raise EiwaError(f"--resume: no checkpoint in {out} to resume from")
        tagger, optimizer_state, state = read_checkpoint(checkpoint)
        log(
            f"resuming after epoch {state['epoch']} "
            f"(best dev F1 {state['best_dev_f1']:.4f} at epoch {state['best_epoch']})"
        )
    else:
        state = new_state()
        tagger = tagger or build(config, train_sentences).tagger
        for feature in tagger.encoder.features.values():
            for line in feature.lines(train_sentences):
                log(line)
    tagger.to(device)
    optimizer = make_optimizer(tagger)
    if resume:
        try:
            optimizer.load_state_dict(optimizer_state)
        except (ValueError, KeyError, TypeError) as error:
            raise EiwaError(
                f"{out / CHECKPOINT}: damaged checkpoint (state.optimizer_groups do not fit the model: {error}); "
                "train again with --force"
            ) from None
    return tagger, optimizer, state


def _fingerprints(train_sentences, dev_sentences, unlabelled: Teaching | None) -> dict[str, str | None]:
    return {
        "train": data_fingerprint(train_sentences),
        "dev": data_fingerprint(dev_sentences),
        "unlabelled": data_fingerprint(unlabelled.sentences) if unlabelled is not None else None,
    }


def _check_same_data(out: Path | None, state: dict, fingerprints: dict[str, str | None]) -> None:
    """Record the data a run trains on; a resumed run must train on the same (a checkpoint written
    before fingerprints were kept has none, and is resumed unchecked)."""
    recorded = state.setdefault("data", fingerprints)
    differ = [name for name in fingerprints if name in recorded and recorded[name] != fingerprints[name]]
    if differ:
        raise EiwaError(
            f"--resume: the {' and '.join(differ)} data differ from those the checkpoint in {out} was trained on; "
            "give the same --train/--dev/--unlabelled, or start over with --force"
        )


def _copy_of_weights(tagger: Tagger) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in tagger.model.state_dict().items()}


def _best_so_far(tagger: Tagger, out: Path | None, resume: bool) -> dict[str, torch.Tensor]:
    """The weights to end with if no epoch improves: those a resumed run saved, else the start's."""
    if resume and out is not None and (out / "model.safetensors").exists():
        return load_file(readable_file(out / "model.safetensors"))
    return _copy_of_weights(tagger)


def _epoch_line(epoch: Epoch, state: dict) -> str:
    return (
        f"epoch {epoch.number:3d}  loss {epoch.loss:8.4f}  dev F1 {epoch.dev_f1:.4f}"
        f"{' *' if epoch.improved else '  '} (best {state['best_dev_f1']:.4f} @ {state['best_epoch']})  "
        f"{epoch.speed:6.0f} sent/s  {epoch.seconds:5.1f} s"
    )


class _ModelWriter:
    """Writes a run's model directory. After an improving epoch the model and its checkpoint are
    swapped in as one directory, after any other the checkpoint file alone is replaced, so that
    model and checkpoint always agree; at the end the model alone, with nothing left to resume."""

    def __init__(
        self, out: Path, tagger: Tagger, optimizer: torch.optim.Optimizer, state: dict, train_size: int, dev_size: int
    ):
        self.out, self.tagger, self.optimizer, self.state = out, tagger, optimizer, state
        self.sizes = {"train_sentences": train_size, "dev_sentences": dev_size}

    def after_epoch(self, improved: bool) -> None:
        if improved:
            self.tagger.save(
                self.out, training=self._summary(), extra=lambda staging: self._checkpoint(staging / CHECKPOINT)
            )
        else:
            write_atomic(self.out / CHECKPOINT, self._checkpoint)

    def finish(self, warnings: list[str]) -> None:
        self.tagger.save(self.out, training={**self._summary(), "warnings": warnings})

    def _checkpoint(self, path) -> None:
        write_checkpoint(Path(path), self.tagger, self.optimizer, self.state)

    def _summary(self) -> dict:
        state = self.state
        return {
            "best_dev_f1": state["best_dev_f1"],
            "best_epoch": state["best_epoch"],
            "epochs": state["epoch"],
            "seconds": round(state["seconds"], 1),
            **self.sizes,
        }
