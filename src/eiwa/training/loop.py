"""The training loop: epochs while dev F1 improves, as a generator of what each epoch did.

`train_while_improving` trains one epoch at a time, scores it on dev and yields an `Epoch`; it
touches no disk and no console: `training.train` consumes it (logs, progress, saving, resume).
Its `state` (a JSON-able dict) is what a checkpoint saves and a resumed run continues from.

Repeatability: each epoch reseeds both the batch order and dropout from (seed, epoch). An epoch
therefore computes the same thing whether the run went straight through or was resumed from the
checkpoint written after the epoch before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from eiwa.config import Config
from eiwa.doc import Sentence
from eiwa.features.encoder import Encoded, Encoder
from eiwa.tagger import Tagger
from eiwa.training.distributed import Group
from eiwa.training.optim import set_learning_rate
from eiwa.training.unlabelled import Unlabelled


class BatchObserver(Protocol):
    """Told about every batch of an epoch (a progress bar)."""

    def begin(self, epoch: int, sentences: int, best_dev_f1: float) -> None: ...

    def advance(self, sentences: int, loss: float, speed: float) -> None: ...

    def end(self) -> None: ...


@dataclass(frozen=True)
class Epoch:
    """What one epoch did, and whether the loop stops after it."""

    number: int
    loss: float  # mean training loss per sentence
    dev_f1: float
    improved: bool  # the best dev F1 so far
    speed: float  # sentences per second
    seconds: float
    stop: bool


def new_state() -> dict:
    """The state of a loop that has not run an epoch yet."""
    return {
        "epoch": 0,
        "best_dev_f1": -1.0,
        "best_epoch": 0,
        "bad_epochs": 0,
        "updates": 0,
        "history": [],
        "seconds": 0.0,
    }


def train_while_improving(
    tagger: Tagger,
    optimizer: torch.optim.Optimizer,
    train_data: Encoded,
    dev_sentences: Sequence[Sentence],
    dev_data: Encoded,
    state: dict,
    group: Group | None = None,
    observer: BatchObserver | None = None,
    unlabelled: Unlabelled | None = None,
) -> Iterator[Epoch]:
    """Train epoch after epoch until `max_epochs`, or until dev F1 has not improved for `patience`
    epochs once `min_updates` optimizer steps are done; `state` is updated before each yield.
    `unlabelled`: sentences with a teacher's targets, mixed into every epoch (unlabelled.py)."""
    config = tagger.config  # a transferred tagger carries its own (source architecture, transfer settings)
    started = time.perf_counter() - state["seconds"]
    while _goes_on(state, config):
        epoch = state["epoch"] + 1
        set_learning_rate(optimizer, config, epoch)
        loss, speed, seconds = run_epoch(
            tagger.model, tagger.encoder, train_data, optimizer, config, epoch, state, group, observer, unlabelled
        )
        dev_f1 = _dev_f1(tagger, dev_sentences, dev_data, group)
        improved = dev_f1 > state["best_dev_f1"]
        if improved:
            state.update(best_dev_f1=dev_f1, best_epoch=epoch, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["seconds"] = time.perf_counter() - started
        state["history"].append(
            {
                "epoch": epoch,
                "loss": round(loss, 4),
                "dev_f1": round(dev_f1, 4),
                "seconds": round(seconds, 2),
                "sentences_per_second": round(speed, 1),
            }
        )
        yield Epoch(epoch, loss, dev_f1, improved, speed, seconds, stop=not _goes_on(state, config))


def cap_warning(state: dict, config: Config) -> str | None:
    """What to tell the user when `max_epochs`, not early stopping, ended the run: dev F1 last improved
    fewer than `patience` epochs before the cap, so more epochs may still improve the model."""
    if state["epoch"] < config.max_epochs or state["bad_epochs"] >= config.patience:
        return None
    return (
        f"training stopped at max_epochs {config.max_epochs} before early stopping could end it: dev F1 last "
        f"improved at epoch {state['best_epoch']}, and early stopping waits {config.patience} epochs without "
        f"improvement; the model may still improve: train longer, e.g. --set max_epochs={2 * config.max_epochs}"
    )


def _goes_on(state: dict, config: Config) -> bool:
    return state["epoch"] < config.max_epochs and (
        state["bad_epochs"] < config.patience or state["updates"] < config.min_updates
    )


def _dev_f1(tagger: Tagger, sentences: Sequence[Sentence], encoded: Encoded, group: Group | None) -> float:
    """Dev F1: in a group, the leader scores and the others take its figure."""
    if group is None:
        return tagger.evaluate(sentences, encoded=encoded).f1
    return group.from_leader(tagger.evaluate(sentences, encoded=encoded).f1 if group.leader else 0.0)


def run_epoch(
    model,
    encoder: Encoder,
    data: Encoded,
    optimizer: torch.optim.Optimizer,
    config: Config,
    epoch: int,
    state: dict,
    group: Group | None = None,
    observer: BatchObserver | None = None,
    unlabelled: Unlabelled | None = None,
) -> tuple[float, float, float]:
    """One pass over the training data (in a group, this process's share of each batch): the mean
    loss per sentence, sentences per second and seconds, over every process."""
    model.train()
    rank, world = (group.rank, group.world) if group is not None else (0, 1)
    torch.manual_seed(config.seed * 100_003 + epoch + 7_919 * rank)  # dropout and unknown-word dropout
    shuffle_seed = int(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0])
    if observer is not None:
        observer.begin(epoch, len(data) + (unlabelled.per_epoch(len(data)) if unlabelled else 0), state["best_dev_f1"])
    total_loss, sentences, started = 0.0, 0, time.perf_counter()
    device = next(model.parameters()).device
    parameters = [p for p in model.parameters() if p.requires_grad]
    shard = (rank, world) if group is not None else None
    batches = _epoch_batches(encoder, data, config, shuffle_seed, shard, unlabelled)
    for batch, targets in batches:
        size = len(batch.indices)
        if targets is not None:
            targets = (targets.to(device), unlabelled.weight)
        total_loss += _step(model, batch.to(device), optimizer, config, group, parameters, targets) * size
        sentences += size
        state["updates"] += 1
        if observer is not None:
            observer.advance(size, total_loss / sentences, sentences / max(time.perf_counter() - started, 1e-9))
    if observer is not None:
        observer.end()
    if group is not None:  # the epoch's loss and sentences over every process
        total_loss, sentences = group.sum(total_loss, sentences)
    seconds = time.perf_counter() - started
    return total_loss / max(sentences, 1), sentences / max(seconds, 1e-9), seconds


def _epoch_batches(encoder: Encoder, data: Encoded, config: Config, shuffle_seed: int, shard, unlabelled):
    """(batch, None) for the gold batches of an epoch; with `unlabelled`, its draw of (batch, targets)
    among them, in an order of their own seed (without, the gold batches go exactly as before)."""
    gold = encoder.batches(data, config.batch_size, shuffle_seed=shuffle_seed, shard=shard)
    if unlabelled is None:
        return ((batch, None) for batch in gold)
    rng = np.random.default_rng([shuffle_seed, 1])
    mixed = [(batch, None) for batch in gold]
    mixed += unlabelled.batches(encoder, len(data), config.batch_size, rng)
    return (mixed[i] for i in rng.permutation(len(mixed)))


def _step(
    model,
    batch,
    optimizer: torch.optim.Optimizer,
    config: Config,
    group: Group | None,
    parameters: list[torch.nn.Parameter],
    targets: tuple[torch.Tensor, float] | None = None,
) -> float:
    """One optimizer update on a batch (with `targets`, a teacher's and their weight); its loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = model.loss(batch) if targets is None else targets[1] * model.soft_loss(batch, targets[0])
    if group is None:
        loss.backward()
    else:  # the global batch's mean loss: each share weighted by its size
        share = len(batch.indices)
        whole = group.whole_batch(share)  # raises Stopped in every process once any is told to stop
        (loss * (share * group.world / whole)).backward()
        group.average_gradients(parameters)
    if config.clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    optimizer.step()
    return loss.item()
