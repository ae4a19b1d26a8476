"""Sentences -> tensors: the strings each feature reads, encoded corpora, batches, and the `Encoder`
that runs the enabled features over them.

A sentence is encoded once (the per-token string work happens in each feature's `encode`, with
caches) into integer arrays; batches are then cut from those arrays with NumPy, so the training
and inference loops never touch individual tokens in Python.

The character module runs once per *distinct* word form in a batch: each token carries an index
into a table of distinct forms, and the model scatters the form vectors back to the tokens. The
forms go through it in chunks of similar length, since padding costs an LSTM as much as real input.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from eiwa.features.base import FEATURES, Feature, classifier_order, module_order
from eiwa.features.vocab import TagVocab, check_strings
from eiwa.persist.migrations import vocab_data
from eiwa.tags import parse_tag, tags_from_spans

if TYPE_CHECKING:
    from eiwa.config import Config
    from eiwa.doc import Sentence


def factorize(values: Sequence[Hashable]) -> tuple[list, np.ndarray]:
    """The distinct values in first-seen order, and each value's index among them (int64). Both are
    C loops (dict.fromkeys, a mapped dict lookup): the per-token work of encoding is done once per
    distinct value and gathered back with NumPy."""
    distinct = list(dict.fromkeys(values))
    position = dict(zip(distinct, range(len(distinct))))
    return distinct, np.fromiter(map(position.__getitem__, values), np.int64, len(values))


def per_sentence(flat: np.ndarray, sentences: Sequence[Sentence]) -> list[np.ndarray]:
    """A corpus-long array cut into one array per sentence."""
    if not len(sentences):
        return []
    return np.split(flat, np.cumsum(np.fromiter(map(len, sentences), np.int64, len(sentences)))[:-1])


def tokens_of(sentences: Sequence[Sentence], column: str) -> list:
    """One attribute of every token of the corpus, in order: "words", "token_readings" or "lemmas"."""
    return list(chain.from_iterable(getattr(sentence, column) for sentence in sentences))


class Inputs:
    """The string each module sees for a token: native script or romaji, as the config says."""

    def __init__(self, config: Config):
        self.config = config
        self._romanizer = None

    def distinct_words(self, sentences: Sequence[Sentence]) -> tuple[list[str], np.ndarray]:
        """The corpus's distinct tokens as the word module sees them, and each token's index among them."""
        return self._distinct_view(self.config.word_input, sentences)

    def distinct_char_forms(self, sentences: Sequence[Sentence]) -> tuple[list[str], np.ndarray]:
        """The same for the character module (lowercased when the config says)."""
        forms, codes = self._distinct_view(self.config.char_input, sentences)
        return ([f.lower() for f in forms] if self.config.char_lowercase else forms), codes

    def _distinct_view(self, choice: str, sentences: Sequence[Sentence]) -> tuple[list[str], np.ndarray]:
        words = tokens_of(sentences, "words")
        if choice == "native" or self.config.lang != "ja":
            return factorize(words)
        # Romaji is a function of the surface and its reading: romanized once per distinct pair.
        pairs, codes = factorize(list(zip(words, tokens_of(sentences, "token_readings"))))
        return [self._romaji(word, reading) for word, reading in pairs], codes

    def _romaji(self, token: str, reading: str | None) -> str:
        if self._romanizer is None:
            from eiwa.tokenize.romaji import Romanizer

            self._romanizer = Romanizer()
        return self._romanizer.romanize(token, reading)

    def _view(self, choice: str, sentence: Sentence) -> list[str]:
        if choice == "native" or self.config.lang != "ja":
            return sentence.words
        return [self._romaji(t.text, t.reading) for t in sentence.tokens]

    def words(self, sentence: Sentence) -> list[str]:
        return self._view(self.config.word_input, sentence)

    def char_forms(self, sentence: Sentence) -> list[str]:
        forms = self._view(self.config.char_input, sentence)
        return [f.lower() for f in forms] if self.config.char_lowercase else forms


# ----------------------------------------------------------------------------- encoded data and batches


def pad(arrays: Sequence[np.ndarray], lengths: np.ndarray) -> np.ndarray:
    """Per-sentence arrays [length, ...] -> one right-padded array [sentences, longest, ...], filled
    by a single NumPy assignment."""
    first = arrays[0] if len(arrays) else np.zeros(0, np.int64)
    grid = np.zeros((len(arrays), int(lengths.max()) if len(lengths) else 0, *first.shape[1:]), first.dtype)
    grid[np.arange(grid.shape[1])[None, :] < lengths[:, None]] = np.concatenate(arrays) if len(arrays) else first
    return grid


@dataclass
class FeatureData:
    """One feature's encoding of a corpus: per-sentence integer arrays by column name, plus
    corpus-level tensors (the character module's table of distinct forms)."""

    columns: dict[str, list[np.ndarray]]
    shared: dict[str, torch.Tensor] = field(default_factory=dict)

    def padded(self, indices: np.ndarray, lengths: np.ndarray) -> dict[str, torch.Tensor]:
        """Every column of the sentences at `indices`, padded to [batch, time, ...]."""
        return {
            name: torch.from_numpy(pad([column[i] for i in indices], lengths)) for name, column in self.columns.items()
        }


@dataclass
class Encoded:
    """A corpus as integer arrays, ready to be cut into batches."""

    features: dict[str, FeatureData]
    tag_ids: list[np.ndarray] | None
    lengths: np.ndarray  # [sentences] tokens per sentence

    def __len__(self) -> int:
        return len(self.lengths)


@dataclass
class FormChunk:
    """Distinct word forms of similar length, for one run of the character module."""

    bigram_ids: torch.Tensor  # [forms, longest in chunk]
    lengths: torch.Tensor  # [forms]

    def to(self, device: torch.device) -> FormChunk:
        return FormChunk(self.bigram_ids.to(device), self.lengths.to(device))


def form_chunks(
    form_lengths: torch.Tensor, form_bigrams: torch.Tensor, forms: np.ndarray | None = None
) -> tuple[list[FormChunk], np.ndarray]:
    """The given forms (default: all) in chunks of similar length for the character module, and
    each form's row in the chunks' outputs concatenated in order.

    Chunks hold forms of 1-2, 3-4, 5-8, 9-16... bigrams (at most 4096 forms each), so that a
    chunk is padded to at most twice its shortest form instead of to the longest in the batch.
    """
    forms = np.arange(len(form_lengths)) if forms is None else forms
    lengths = form_lengths.numpy()[forms]
    order = np.argsort(lengths, kind="stable")
    row = np.empty_like(order)
    row[order] = np.arange(len(order))
    forms, lengths = forms[order], lengths[order]
    size_class = np.ceil(np.log2(np.maximum(lengths, 2))).astype(np.int64)
    bounds = np.union1d(np.flatnonzero(np.diff(size_class)) + 1, np.arange(4096, len(forms), 4096))
    chunks = [
        FormChunk(form_bigrams[torch.from_numpy(part)][:, : int(part_lengths[-1])], torch.from_numpy(part_lengths))
        for part, part_lengths in zip(np.split(forms, bounds), np.split(lengths, bounds))
    ]
    return chunks, row


@dataclass
class Batch:
    inputs: dict[str, dict]  # feature name -> its tensors (see each Feature.batch)
    lengths: torch.Tensor  # [batch]
    mask: torch.Tensor  # [batch, time] bool
    tag_ids: torch.Tensor | None  # [batch, time]
    indices: np.ndarray  # positions of these sentences in the encoded corpus

    def to(self, device: torch.device) -> Batch:
        """This batch on `device` (itself when it is there already: the CPU case costs nothing)."""
        if device.type == "cpu":
            return self
        return Batch(
            {name: _to(value, device) for name, value in self.inputs.items()},
            self.lengths.to(device),
            self.mask.to(device),
            None if self.tag_ids is None else self.tag_ids.to(device),
            self.indices,
        )

    def with_inputs(self, extra: dict[str, dict]) -> Batch:
        """This batch with more tensors for some features' modules (see Encoder.precompute)."""
        return replace(self, inputs={name: {**tensors, **extra.get(name, {})} for name, tensors in self.inputs.items()})


def _to(value, device: torch.device):
    if isinstance(value, (torch.Tensor, FormChunk)):
        return value.to(device)
    if isinstance(value, dict):
        return {key: _to(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(item, device) for item in value)
    return value


# ----------------------------------------------------------------------------- the encoder


class Encoder:
    """The enabled features and the tag vocabulary: sentences -> `Encoded` arrays -> `Batch`es."""

    def __init__(self, config: Config, features: dict[str, Feature], tags: TagVocab):
        self.config = config
        self.features = features  # in module order (base.module_order)
        self.tags = tags
        self.inputs = Inputs(config)

    @staticmethod
    def enabled(config: Config) -> list[str]:
        return module_order(config.feature_names())

    @classmethod
    def build(cls, config: Config, sentences: Sequence[Sentence]) -> Encoder:
        """Vocabularies and resources of every enabled feature, and the tags, from training data."""
        inputs = Inputs(config)
        features = {name: FEATURES[name].fit(config, sentences, inputs) for name in cls.enabled(config)}
        tag_set = set()
        for sentence in sentences:
            tag_set.update(tags_from_spans(sentence.token_spans(), len(sentence), config.tag_scheme))
        return cls(config, features, TagVocab(tag_set))

    def modules(self) -> dict[str, nn.Module]:
        """A fresh module per feature, created in module order (what a seed gives depends on it)."""
        return {name: feature.new_module() for name, feature in self.features.items()}

    def input_order(self) -> list[str]:
        """The order in which the classifier reads the features' outputs."""
        return classifier_order(self.features)

    def to_json(self) -> dict:
        return {
            "features": {name: f.to_json() for name, f in self.features.items()},
            "tags": self.tags.items,
            "inherited_tags": self.tags.inherited,
        }

    @classmethod
    def from_json(cls, config: Config, data: dict) -> Encoder:
        check_strings(data["tags"], "tags", unique=False)
        for tag in data["tags"]:
            parse_tag(tag)  # a tag the decoder cannot read is a damaged file, found now, not mid-prediction
        tags = TagVocab(data["tags"], data.get("inherited_tags", ()))
        data = vocab_data(data)
        features = {name: FEATURES[name].from_json(config, data["features"][name]) for name in cls.enabled(config)}
        return cls(config, features, tags)

    def encode(self, sentences: Sequence[Sentence], with_tags: bool = True) -> Encoded:
        features = {name: feature.encode(sentences, self.inputs) for name, feature in self.features.items()}
        tag_ids = None
        if with_tags:
            tag_ids = []
            for sentence in sentences:
                tags = tags_from_spans(sentence.token_spans(), len(sentence), self.config.tag_scheme)
                tag_ids.append(np.fromiter((self.tags.ids.get(t, 0) for t in tags), np.int64, len(tags)))
        lengths = np.fromiter(map(len, sentences), np.int64, len(sentences))
        return Encoded(features, tag_ids, lengths)

    def precompute(self, model: nn.Module, encoded: Encoded, run: Callable, device: torch.device) -> dict[str, dict]:
        """Each feature's tensors over the whole encoded corpus, for its module at inference
        (Feature.precompute); give them to every batch with `Batch.with_inputs`."""
        return {
            name: feature.precompute(getattr(model, name), encoded.features[name], run, device)
            for name, feature in self.features.items()
        }

    def batch(self, encoded: Encoded, indices: np.ndarray, inference: bool = False) -> Batch:
        """The sentences at `indices` as one batch; at `inference`, each feature gives only what its
        module reads beside its precomputed tensors (Feature.inference_batch)."""
        lengths = encoded.lengths[indices]
        mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
        inputs = {
            name: (feature.inference_batch if inference else feature.batch)(encoded.features[name], indices, lengths)
            for name, feature in self.features.items()
        }
        tags = None
        if encoded.tag_ids is not None:
            tags = torch.from_numpy(pad([encoded.tag_ids[i] for i in indices], lengths))
        return Batch(inputs, torch.from_numpy(lengths), torch.from_numpy(mask), tags, np.asarray(indices))

    def batches(
        self,
        encoded: Encoded,
        batch_size: int,
        shuffle_seed: int | None = None,
        shard: tuple[int, int] | None = None,
        inference: bool = False,
    ):
        """Length-bucketed batches: similar lengths together waste little padding.

        With a seed, sentences are shuffled, sorted by length within pools of 50 batches, and
        the batches shuffled again, so that each epoch sees a different, repeatable order.
        `shard` = (rank, world): this process's share of each batch (sentences rank, rank +
        world, ...), for data-parallel training; every rank gets the same number of batches
        (a batch with fewer sentences than processes is left out).
        """
        lengths = encoded.lengths
        if shuffle_seed is None:
            order = np.argsort(-lengths, kind="stable")
            chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        else:
            rng = np.random.default_rng(shuffle_seed)
            order = rng.permutation(len(encoded))
            pool = batch_size * 50
            chunks = []
            for start in range(0, len(order), pool):
                part = order[start : start + pool]
                part = part[np.argsort(lengths[part], kind="stable")]
                chunks.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
        for chunk in chunks:
            chunk = chunk[lengths[chunk] > 0]
            if shard is not None:
                if len(chunk) < shard[1]:
                    continue
                chunk = chunk[shard[0] :: shard[1]]
            if len(chunk):
                yield self.batch(encoded, chunk, inference)
