"""The `word` feature: the normalised word -> embedding, plus a small embedding of its casing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from torch import nn

from eiwa.errors import EiwaError
from eiwa.features.base import Feature, Setting, register
from eiwa.features.encoder import FeatureData, per_sentence
from eiwa.features.vocab import CASES, Vocab, casing, normalize_word


@register
class WordFeature(Feature):
    """The normalised word (native script or romaji) and its casing."""

    name = "word"
    settings = {
        "word_embedding_dim": Setting(int, 100, "size of a word's embedding", minimum=1, shapes_weights=True),
        "case_embedding_dim": Setting(
            int, 10, "size of the casing embedding (casing is lost by lowercasing)", minimum=0, shapes_weights=True
        ),
        "word_lowercase": Setting(bool, True, "lowercase words before looking them up", shapes_weights=True),
        "min_word_count": Setting(
            int, 1, "rarer training words are left to the unknown word (keeps models small)", minimum=1
        ),
        "singleton_unk_rate": Setting(
            float, 0.5, "how often a word seen once in training is read as unknown", minimum=0.0, below=1.0
        ),
        "word_vectors": Setting(str, None, "word2vec/fastText text file to initialise word embeddings", optional=True),
        "vectors_limit": Setting(int, 200_000, "read at most this many vectors of word_vectors"),
    }
    vocab_tables = {"embedding.weight": "words"}
    legacy_init_rank = 1
    classifier_first = True

    @classmethod
    def fit(cls, config, sentences, inputs):
        from eiwa.resources.word2vec import read_vectors

        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(normalize_word(w, config.word_lowercase) for w in inputs.words(sentence))
        extra = ()
        if config.word_vectors:
            extra = read_vectors(config.word_vectors, config.word_lowercase, config.vectors_limit)[0]
        return cls(config, {"words": Vocab.by_frequency(counts, config.min_word_count, extra)})

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        words = self.vocabs.get("words")
        counts = np.asarray(words.counts + [0] * (len(words) - len(words.counts))) if words else np.zeros(0)
        self.is_singleton = torch.from_numpy(counts == 1)

    def encode(self, sentences, inputs):
        index, lowercase = self.vocabs["words"].index, self.config.word_lowercase
        words, codes = inputs.distinct_words(sentences)
        word_ids = np.fromiter((index(normalize_word(w, lowercase)) for w in words), np.int64, len(words))[codes]
        case_ids = np.fromiter(map(casing, words), np.int64, len(words))[codes]
        return FeatureData(
            {"word_ids": per_sentence(word_ids, sentences), "case_ids": per_sentence(case_ids, sentences)}
        )

    def batch(self, data, indices, lengths):
        tensors = super().batch(data, indices, lengths)
        tensors["singletons"] = self.is_singleton[tensors["word_ids"]]
        return tensors

    def module(self):
        c = self.config
        return WordModule(len(self.vocabs["words"]), c.word_embedding_dim, c.case_embedding_dim, c.singleton_unk_rate)

    def initialise(self, module):
        from eiwa.resources.word2vec import read_vectors

        if not self.config.word_vectors:
            return
        words, vectors = read_vectors(self.config.word_vectors, self.config.word_lowercase, self.config.vectors_limit)
        if vectors.shape[1] != self.config.word_embedding_dim:
            raise EiwaError(
                f"{self.config.word_vectors}: vectors have {vectors.shape[1]} dimensions but word_embedding_dim is "
                f"{self.config.word_embedding_dim}; use --set word_embedding_dim={vectors.shape[1]}"
            )
        rows = torch.tensor([self.vocabs["words"].index(w) for w in words])
        with torch.no_grad():
            module.embedding.weight[rows] = torch.from_numpy(vectors)


class WordModule(nn.Module):
    """A normalised word's embedding plus a small embedding of its casing (lost by lowercasing)."""

    def __init__(self, num_words: int, embedding_dim: int, case_dim: int, singleton_unk_rate: float):
        super().__init__()
        self.embedding = nn.Embedding(num_words, embedding_dim, padding_idx=0)
        self.case_embedding = nn.Embedding(len(CASES), case_dim, padding_idx=0)
        self.singleton_unk_rate = singleton_unk_rate
        self.output_dim = embedding_dim + case_dim

    def forward(self, inputs: dict) -> torch.Tensor:
        word_ids, case_ids, singletons = inputs["word_ids"], inputs["case_ids"], inputs["singletons"]
        if self.training and self.singleton_unk_rate > 0:
            # Lample et al.: words seen once in training are sometimes replaced by the unknown word,
            # so that its embedding is trained for the unseen words met at test time.
            drop = singletons & (torch.rand(word_ids.shape, device=word_ids.device) < self.singleton_unk_rate)
            word_ids = word_ids.masked_fill(drop, 1)
        return torch.cat([self.embedding(word_ids), self.case_embedding(case_ids)], dim=-1)
