"""Examples -> tensors: vocabularies, the strings each feature reads, encoded corpora and batches.

A sentence is encoded once (the per-token string work happens in each feature's `encode`, with
caches) into integer arrays; batches are then cut from those arrays with NumPy, so the training
and inference loops never touch individual tokens in Python. The features themselves, and the
`Encoder` that runs them, are in features.py.

The character module runs once per *distinct* word form in a batch: each token carries an index
into a table of distinct forms, and the model scatters the form vectors back to the tokens. The
forms go through it in chunks of similar length, since padding costs an LSTM as much as real input.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from eiwa.config import Config
from eiwa.readers.core import Sentence
from eiwa.errors import DataError

PAD, UNK = "<pad>", "<unk>"
BEGIN, END = "\x02", "\x03"  # word boundary markers for character bigrams
CASES = ("<pad>", "lower", "upper_initial", "all_upper", "mixed", "numeric", "has_digit", "other")


class Vocab:
    """String <-> id, with padding at 0 and the unknown entry at 1."""

    def __init__(self, items: Iterable[str] = (), counts: Sequence[int] | None = None, inherited: int = 0):
        # Ids below `inherited` were copied, rows and all, from a source model's vocabulary (transfer.py).
        self.inherited = inherited
        self.items = [PAD, UNK]
        self.ids = {PAD: 0, UNK: 1}
        for item in items:
            if item not in self.ids:
                self.ids[item] = len(self.items)
                self.items.append(item)
        self.counts = list(counts) if counts is not None else [0] * len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.ids

    def index(self, item: str) -> int:
        return self.ids.get(item, 1)

    def to_json(self) -> dict:
        return {"items": self.items[2:], "counts": self.counts, "inherited": self.inherited}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        return cls(data["items"], data.get("counts"), data.get("inherited", 0))


class TagVocab:
    """Tags have no padding or unknown entry of their own: 'O' is id 0."""

    def __init__(self, tags: Iterable[str], inherited: Iterable[str] = ()):
        self.items = ["O"] + sorted(set(tags) - {"O"})
        self.ids = {tag: i for i, tag in enumerate(self.items)}
        # Tags whose output and CRF rows were copied from a source model's tags (transfer.py).
        self.inherited = list(inherited)

    def __len__(self) -> int:
        return len(self.items)

    def entity_types(self) -> list[str]:
        return sorted({tag[2:] for tag in self.items if tag != "O"})


# ----------------------------------------------------------------------------- token features


@lru_cache(maxsize=1_000_000)
def normalize_word(word: str, lowercase: bool) -> str:
    """NFKC (full-width -> ASCII), optional lowercasing, every digit -> 0."""
    word = unicodedata.normalize("NFKC", word)
    if lowercase:
        word = word.lower()
    return re.sub(r"\d", "0", word)


@lru_cache(maxsize=1_000_000)
def casing(word: str) -> int:
    if word.isdigit():
        return CASES.index("numeric")
    if not any(c.isalpha() and (c.isupper() or c.islower()) for c in word):
        return CASES.index("has_digit") if any(c.isdigit() for c in word) else CASES.index("other")
    if word.islower():
        return CASES.index("lower")
    if word.isupper():
        return CASES.index("all_upper")
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return CASES.index("upper_initial")
    return CASES.index("mixed")


def bigrams(form: str) -> list[str]:
    """Overlapping character pairs of a word with begin/end markers: 'EU' -> ['\\x02E', 'EU', 'U\\x03']."""
    marked = BEGIN + form + END
    return [marked[i : i + 2] for i in range(len(marked) - 1)]


class Inputs:
    """The string each module sees for a token: native script or romaji, as the config says."""

    def __init__(self, config: Config):
        self.config = config
        self._romanizer = None

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


# ----------------------------------------------------------------------------- pretrained vectors


@functools.cache  # read once per process: the vocabulary and the initial rows both need it
def read_vectors(path: str | Path, lowercase: bool, limit: int) -> tuple[list[str], np.ndarray]:
    """A word2vec/fastText text file (optional 'count dim' header line): words and their vectors."""
    words, rows, dim = [], [], None
    seen = set()
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise DataError(path, None, f"cannot read vectors: {error.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(path, number, "invalid UTF-8") from None
            fields = line.rstrip().split(" ")
            if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                continue  # header
            if len(fields) < 2:
                continue
            if dim is None:
                dim = len(fields) - 1
            if len(fields) - 1 != dim:
                raise DataError(path, number, f"expected {dim} numbers after the word, found {len(fields) - 1}")
            word = normalize_word(fields[0], lowercase)
            if word in seen:
                continue
            try:
                rows.append(np.asarray(fields[1:], dtype=np.float32))
            except ValueError:
                raise DataError(path, number, "vector values must be numbers") from None
            seen.add(word)
            words.append(word)
            if len(words) >= limit:
                break
    if not words:
        raise DataError(path, None, "no vectors found")
    return words, np.stack(rows)


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

    def to(self, device: torch.device) -> "FormChunk":
        return FormChunk(self.bigram_ids.to(device), self.lengths.to(device))


def form_chunks(form_lengths: torch.Tensor, form_bigrams: torch.Tensor,
                forms: np.ndarray | None = None) -> tuple[list[FormChunk], np.ndarray]:
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

    def to(self, device: torch.device) -> "Batch":
        """This batch on `device` (itself when it is there already: the CPU case costs nothing)."""
        if device.type == "cpu":
            return self
        return Batch({name: _to(value, device) for name, value in self.inputs.items()}, self.lengths.to(device),
                     self.mask.to(device), None if self.tag_ids is None else self.tag_ids.to(device), self.indices)


def _to(value, device: torch.device):
    if isinstance(value, (torch.Tensor, FormChunk)):
        return value.to(device)
    if isinstance(value, dict):
        return {key: _to(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(item, device) for item in value)
    return value
