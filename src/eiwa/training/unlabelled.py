"""Training with unlabelled text: what a teacher says of it, turned into targets the student learns from.

    teaching = teach([teacher], sentences)             # each teacher's tag distributions per token
    mixed = teaching.for_student(student, config)      # in the student's tags: soft or hard targets
    train(config, gold, dev, unlabelled=teaching)      # the loop mixes `mixed` into every epoch

A teacher is any tagger that knows the student's types (by name): the model trained on the gold
sentences (self-training), a given model, or several whose distributions are averaged (an ensemble).
Soft targets are the teacher's exact CRF marginals per token, and the student minimises its CRF's
cross-entropy against them (structure-level distillation, Wang et al. 2020; the teacher-student
setting of Wu et al. 2020); hard targets keep the teacher's most likely tag per token, for the
sentences it is confident of throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from eiwa.config import Config
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.features.encoder import Encoded, Encoder, pad
from eiwa.tagger import Tagger


@dataclass(frozen=True)
class Teaching:
    """What the teachers say of the unlabelled sentences: per teacher, its tag names and its
    [tokens, tags] marginals per sentence."""

    sentences: Sequence[Sentence]
    said: list[tuple[list[str], list[np.ndarray]]]

    def for_student(self, student: Tagger, config: Config) -> Unlabelled:
        """The sentences encoded for `student`, with targets in its tags (`config.pseudo_labels`)."""
        kept, targets = self.targets_in(student.encoder.tags.items, config)
        sentences = [self.sentences[i] for i in kept]
        encoded = student.encoder.encode(sentences, with_tags=False)
        return Unlabelled(encoded, targets, config.unlabelled_weight, config.unlabelled_ratio)

    def targets_in(self, tag_names: Sequence[str], config: Config) -> tuple[np.ndarray, list[np.ndarray]]:
        """The sentences kept (all, for soft targets) and their targets over `tag_names`."""
        marginals = self.marginals_in(tag_names)
        if config.pseudo_labels == "hard":
            return hard_targets(marginals, config.pseudo_label_threshold)
        return np.arange(len(marginals)), marginals

    def marginals_in(self, tag_names: Sequence[str]) -> list[np.ndarray]:
        """The teachers' averaged distributions per token over `tag_names`; a teacher's tags of
        types the student lacks count as O."""
        if not self.sentences:
            return []
        lengths = np.array([len(s.tokens) for s in self.sentences])
        total = 0.0
        for names, marginals in self.said:
            total = total + np.concatenate(marginals) @ _name_map(names, tag_names)
        return np.split((total / len(self.said)).astype(np.float32), np.cumsum(lengths)[:-1])

    def counts(self, tag_names: Sequence[str], config: Config) -> dict:
        """What the round's targets hold: sentences, kept sentences (hard) and entities (expected, for soft)."""
        kept, targets = self.targets_in(tag_names, config)
        starts = np.array([not (name.startswith(("I-", "E-")) or name == "O") for name in tag_names])
        entities = float(sum(t[:, starts].sum() for t in targets))
        entities = int(round(entities)) if config.pseudo_labels == "hard" else round(entities, 1)
        return {"sentences": len(self.sentences), "kept": len(kept), "entities": entities}


def teach(teachers: Sequence[Tagger], sentences: Sequence[Sentence], batch_size: int = 64) -> Teaching:
    """Every teacher's marginals on `sentences` (pre-tokenized, as the student reads them)."""
    if not teachers:
        raise EiwaError("training with unlabelled text needs a teacher")
    return Teaching(sentences, [(list(t.encoder.tags.items), t.marginals(sentences, batch_size)) for t in teachers])


def check_teachers(teachers: Sequence[Tagger], types: Sequence[str]) -> None:
    """A teacher must know the student's types by name, or it teaches only O."""
    for teacher in teachers:
        if types and not set(types) & set(teacher.entity_types):
            raise EiwaError(
                f"the teacher knows none of the data's types ({', '.join(types)}; it tags "
                f"{', '.join(teacher.entity_types)}): transfer it to them first (eiwa transfer --label-map)"
            )


def hard_targets(marginals: Sequence[np.ndarray], threshold: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sentences whose every token's top tag has P >= threshold, and their one-hot top tags."""
    if not marginals:
        return np.zeros(0, dtype=np.int64), []
    lengths = np.array([len(m) for m in marginals])
    flat = np.concatenate(marginals)
    top = flat.max(axis=1)
    starts = np.cumsum(lengths) - lengths
    nonempty = lengths > 0
    lowest = np.ones(len(marginals))
    lowest[nonempty] = np.minimum.reduceat(top, starts[nonempty]) if len(top) else 1.0
    kept = np.flatnonzero(nonempty & (lowest >= threshold))
    one_hot = np.eye(flat.shape[1], dtype=np.float32)[flat.argmax(axis=1)]
    pieces = np.split(one_hot, np.cumsum(lengths)[:-1])
    return kept, [pieces[i] for i in kept]


def _name_map(teacher_tags: Sequence[str], student_tags: Sequence[str]) -> np.ndarray:
    """[teacher tags, student tags]: 1 where the names agree; a tag the student lacks goes to O."""
    column = {name: i for i, name in enumerate(student_tags)}
    mapping = np.zeros((len(teacher_tags), len(student_tags)), dtype=np.float64)
    for row, name in enumerate(teacher_tags):
        mapping[row, column.get(name, column["O"])] = 1.0
    return mapping


@dataclass
class Unlabelled:
    """Unlabelled sentences encoded for the student, their targets [tokens, tags], the weight of their
    loss and how many are drawn per gold sentence each epoch."""

    encoded: Encoded
    targets: list[np.ndarray]
    weight: float
    ratio: float

    def per_epoch(self, gold: int) -> int:
        """How many unlabelled sentences an epoch with `gold` gold sentences draws."""
        return len(self.encoded) if gold == 0 else min(len(self.encoded), round(self.ratio * gold))

    def batches(self, encoder: Encoder, gold: int, batch_size: int, rng: np.random.Generator):
        """This epoch's draw of unlabelled sentences (all of them when there is no gold), as
        length-sorted (batch, targets [batch, time, tags]) pairs in random order."""
        drawn = rng.choice(len(self.encoded), size=self.per_epoch(gold), replace=False)
        drawn = drawn[self.encoded.lengths[drawn] > 0]
        drawn = drawn[np.argsort(self.encoded.lengths[drawn], kind="stable")]
        chunks = [drawn[i : i + batch_size] for i in range(0, len(drawn), batch_size)]
        for chunk in (chunks[i] for i in rng.permutation(len(chunks))):
            batch = encoder.batch(self.encoded, chunk)
            targets = pad([self.targets[i] for i in chunk], self.encoded.lengths[chunk])
            yield batch, torch.from_numpy(targets)
