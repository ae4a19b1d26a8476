"""Any categorical token attribute -> an embedding: the base of features such as `chartype`."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from eiwa.features.base import Feature
from eiwa.features.encoder import FeatureData, factorize, per_sentence, tokens_of
from eiwa.features.vocab import Vocab


class AttributeFeature(Feature):
    """Any categorical token attribute -> an embedding.

    As AllenNLP's `SingleIdTokenIndexer(feature_name=...)` or flair's `OneHotEmbeddings(field=...)`:
    a subclass names the attribute by `value(token_text)` and the setting of its embedding's size by
    `dim_setting`; its vocabulary is the training data's values by frequency, and unseen values read
    the unknown row.
    """

    dim_setting: ClassVar[str]
    vocab_tables = {"embedding.weight": "values"}

    @staticmethod
    def value(word: str) -> str:
        raise NotImplementedError

    @classmethod
    def fit(cls, config, sentences, inputs):
        return cls(config, {"values": Vocab.by_frequency(Counter(cls.value(w) for s in sentences for w in s.words))})

    def encode(self, sentences, inputs):
        index = self.vocabs["values"].index
        words, codes = factorize(tokens_of(sentences, "words"))  # each distinct word's value once
        ids = np.fromiter((index(self.value(w)) for w in words), np.int64, len(words))[codes]
        return FeatureData({"ids": per_sentence(ids, sentences)})

    def module(self):
        return AttributeModule(len(self.vocabs["values"]), getattr(self.config, self.dim_setting))


class AttributeModule(nn.Module):
    """One categorical token attribute -> its embedding."""

    def __init__(self, values: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(values, dim, padding_idx=0)
        self.output_dim = dim

    def forward(self, inputs: dict) -> torch.Tensor:
        return self.embedding(inputs["ids"])
