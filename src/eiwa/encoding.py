"""Examples -> tensors: vocabularies, each module's input features, and length-bucketed batches.

A sentence is encoded once (the per-token string work happens here, with caches) into integer
arrays; batches are then cut from those arrays with NumPy, so the training and inference loops
never touch individual tokens in Python.

The character module runs once per *distinct* word form in a batch: each token carries an index
into a table of distinct forms, and the model scatters the form vectors back to the tokens. The
forms go through it in chunks of similar length, since padding costs an LSTM as much as real input.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from .config import Config
from .data import Sentence
from .errors import DataError
from .tags import tags_from_spans

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
            from .romaji import Romanizer

            self._romanizer = Romanizer()
        return self._romanizer.romanize(token, reading)

    def _view(self, choice: str, sentence: Sentence) -> list[str]:
        if choice == "native" or self.config.lang != "ja":
            return sentence.tokens
        readings = sentence.readings or [None] * len(sentence.tokens)
        return [self._romaji(t, r) for t, r in zip(sentence.tokens, readings)]

    def words(self, sentence: Sentence) -> list[str]:
        return self._view(self.config.word_input, sentence)

    def char_forms(self, sentence: Sentence) -> list[str]:
        forms = self._view(self.config.char_input, sentence)
        return [f.lower() for f in forms] if self.config.char_lowercase else forms


# ----------------------------------------------------------------------------- pretrained vectors


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


# ----------------------------------------------------------------------------- the encoder


@dataclass
class Encoded:
    """A corpus as integer arrays, ready to be cut into batches."""

    word_ids: list[np.ndarray]
    case_ids: list[np.ndarray]
    form_ids: list[np.ndarray]  # index into `form_bigrams`
    tag_ids: list[np.ndarray] | None
    form_bigrams: torch.Tensor  # [forms, longest] bigram ids, padded
    form_lengths: torch.Tensor  # [forms]

    def __len__(self) -> int:
        return len(self.word_ids)

    def form_chunks(self, forms: np.ndarray | None = None) -> tuple[list["FormChunk"], np.ndarray]:
        """The given forms (default: all) in chunks of similar length for the character module, and
        each form's row in the chunks' outputs concatenated in order.

        Chunks hold forms of 1-2, 3-4, 5-8, 9-16... bigrams (at most 4096 forms each), so that a
        chunk is padded to at most twice its shortest form instead of to the longest in the batch.
        """
        forms = np.arange(len(self.form_lengths)) if forms is None else forms
        lengths = self.form_lengths.numpy()[forms]
        order = np.argsort(lengths, kind="stable")
        row = np.empty_like(order)
        row[order] = np.arange(len(order))
        forms, lengths = forms[order], lengths[order]
        size_class = np.ceil(np.log2(np.maximum(lengths, 2))).astype(np.int64)
        bounds = np.union1d(np.flatnonzero(np.diff(size_class)) + 1, np.arange(4096, len(forms), 4096))
        chunks = [
            FormChunk(self.form_bigrams[torch.from_numpy(part)][:, : int(part_lengths[-1])], torch.from_numpy(part_lengths))
            for part, part_lengths in zip(np.split(forms, bounds), np.split(lengths, bounds))
        ]
        return chunks, row


@dataclass
class FormChunk:
    """Distinct word forms of similar length, for one run of the character module."""

    bigram_ids: torch.Tensor  # [forms, longest in chunk]
    lengths: torch.Tensor  # [forms]


@dataclass
class Batch:
    word_ids: torch.Tensor  # [batch, time]
    case_ids: torch.Tensor  # [batch, time]
    singletons: torch.Tensor  # [batch, time] bool: words seen once in training (for unknown-word dropout)
    token_forms: torch.Tensor  # [batch, time] row of each token's form in the character module's output
    form_chunks: list[FormChunk]  # the batch's distinct forms, in chunks of similar length
    form_ids: torch.Tensor  # [batch, time] each token's form in the whole encoded corpus
    lengths: torch.Tensor  # [batch]
    mask: torch.Tensor  # [batch, time] bool
    tag_ids: torch.Tensor | None  # [batch, time]
    indices: np.ndarray  # positions of these sentences in the encoded corpus


class Encoder:
    """Owns the vocabularies and turns sentences into `Encoded` arrays and `Batch`es."""

    def __init__(self, config: Config, words: Vocab, bigram_vocab: Vocab, tags: TagVocab):
        self.config = config
        self.words = words
        self.bigrams = bigram_vocab
        self.tags = tags
        self.inputs = Inputs(config)
        counts = np.asarray(words.counts + [0] * (len(words) - len(words.counts)))
        self.is_singleton = torch.from_numpy(counts == 1)

    @classmethod
    def build(cls, config: Config, sentences: Sequence[Sentence], extra_words: Sequence[str] = ()) -> "Encoder":
        """Vocabularies from training data (plus words that have pretrained vectors)."""
        inputs = Inputs(config)
        word_counts: Counter[str] = Counter()
        bigram_counts: Counter[str] = Counter()
        tag_set = set()
        for sentence in sentences:
            word_counts.update(normalize_word(w, config.word_lowercase) for w in inputs.words(sentence))
            for form in inputs.char_forms(sentence):
                bigram_counts.update(bigrams(form))
            tag_set.update(tags_from_spans(sentence.token_spans(), len(sentence), config.tag_scheme))
        word_items = [w for w, n in word_counts.most_common() if n >= config.min_word_count]
        word_items += [w for w in extra_words if w not in word_counts]
        words = Vocab(word_items)
        words.counts = [0, 0] + [word_counts.get(w, 0) for w in words.items[2:]]
        bigram_vocab = Vocab(b for b, _ in bigram_counts.most_common())
        bigram_vocab.counts = [0, 0] + [bigram_counts[b] for b in bigram_vocab.items[2:]]
        return cls(config, words, bigram_vocab, TagVocab(tag_set))

    def to_json(self) -> dict:
        return {"words": self.words.to_json(), "bigrams": self.bigrams.to_json(), "tags": self.tags.items,
                "inherited_tags": self.tags.inherited}

    @classmethod
    def from_json(cls, config: Config, data: dict) -> "Encoder":
        tags = TagVocab(data["tags"], data.get("inherited_tags", ()))
        return cls(config, Vocab.from_json(data["words"]), Vocab.from_json(data["bigrams"]), tags)

    def encode(self, sentences: Sequence[Sentence], with_tags: bool = True) -> Encoded:
        form_index: dict[str, int] = {}
        word_ids, case_ids, form_ids, tag_ids = [], [], [], []
        lowercase = self.config.word_lowercase
        for sentence in sentences:
            words = self.inputs.words(sentence)
            word_ids.append(np.fromiter((self.words.index(normalize_word(w, lowercase)) for w in words), np.int64, len(words)))
            case_ids.append(np.fromiter((casing(w) for w in words), np.int64, len(words)))
            forms = self.inputs.char_forms(sentence)
            form_ids.append(np.fromiter((form_index.setdefault(f, len(form_index)) for f in forms), np.int64, len(forms)))
            if with_tags:
                tags = tags_from_spans(sentence.token_spans(), len(sentence), self.config.tag_scheme)
                tag_ids.append(np.fromiter((self.tags.ids.get(t, 0) for t in tags), np.int64, len(tags)))
        form_bigrams, form_lengths = self._bigram_table(list(form_index))
        return Encoded(word_ids, case_ids, form_ids, tag_ids if with_tags else None, form_bigrams, form_lengths)

    def _bigram_table(self, forms: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """[forms, longest] bigram ids (right-padded) and [forms] lengths, filled in one NumPy step."""
        index = self.bigrams.index
        rows = [[index(b) for b in bigrams(form)] for form in forms] or [[0]]
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        table = np.zeros((len(rows), int(lengths.max())), np.int64)
        table[np.arange(table.shape[1]) < lengths[:, None]] = np.fromiter(itertools.chain.from_iterable(rows), np.int64)
        return torch.from_numpy(table), torch.from_numpy(lengths)

    def batch(self, encoded: Encoded, indices: np.ndarray) -> Batch:
        lengths = np.fromiter((len(encoded.word_ids[i]) for i in indices), np.int64, len(indices))
        size, longest = len(indices), int(lengths.max())
        word_ids = np.zeros((size, longest), np.int64)
        case_ids = np.zeros((size, longest), np.int64)
        forms = np.zeros((size, longest), np.int64)
        tags = np.zeros((size, longest), np.int64) if encoded.tag_ids is not None else None
        for row, i in enumerate(indices):
            n = lengths[row]
            word_ids[row, :n] = encoded.word_ids[i]
            case_ids[row, :n] = encoded.case_ids[i]
            forms[row, :n] = encoded.form_ids[i]
            if tags is not None:
                tags[row, :n] = encoded.tag_ids[i]
        mask = np.arange(longest)[None, :] < lengths[:, None]
        # Run the character module once per distinct form in the batch.
        distinct, token_forms = np.unique(forms[mask], return_inverse=True)
        form_chunks, chunk_row = encoded.form_chunks(distinct)
        token_form_grid = np.zeros((size, longest), np.int64)
        token_form_grid[mask] = chunk_row[token_forms]
        word_ids_t = torch.from_numpy(word_ids)
        return Batch(
            word_ids=word_ids_t,
            case_ids=torch.from_numpy(case_ids),
            singletons=self.is_singleton[word_ids_t],
            token_forms=torch.from_numpy(token_form_grid),
            form_chunks=form_chunks,
            form_ids=torch.from_numpy(forms),
            lengths=torch.from_numpy(lengths),
            mask=torch.from_numpy(mask),
            tag_ids=None if tags is None else torch.from_numpy(tags),
            indices=np.asarray(indices),
        )

    def batches(
        self, encoded: Encoded, batch_size: int, shuffle_seed: int | None = None
    ) -> Iterator[Batch]:
        """Length-bucketed batches: similar lengths together waste little padding.

        With a seed, sentences are shuffled, sorted by length within pools of 50 batches, and
        the batches shuffled again, so that each epoch sees a different, repeatable order.
        """
        lengths = np.fromiter((len(w) for w in encoded.word_ids), np.int64, len(encoded))
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
            if len(chunk):
                yield self.batch(encoded, chunk)
