"""The `pos` feature: a universal POS tag embedding and embeddings of the language's own POS levels."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from eiwa.doc import Sentence, TokenColumns
from eiwa.errors import EiwaError
from eiwa.features.base import Feature, Setting, register
from eiwa.features.encoder import FeatureData, factorize, per_sentence
from eiwa.features.vocab import Vocab


@register
class PosFeature(Feature):
    """Part of speech: the universal tag (UPOS) and, for Japanese, the UniDic levels pos1-pos3.

    UPOS is shared by Japanese and English; the levels are cumulative names (名詞, 名詞-固有名詞,
    名詞-固有名詞-人名). `pos_source = "tokenizer"` reads eiwa's own tokenizer's analysis (raw text
    gets it when it is tokenized, corpora by alignment: `JapaneseTokenizer.analyse`); `"corpus"`
    reads the data's own POS column, and then every input must have one. English has no tokenizer
    POS: it reads the CoNLL POS column (Penn Treebank tags) either way.
    """

    name = "pos"
    settings = {
        "pos_source": Setting(
            str,
            "tokenizer",
            "tokenizer: eiwa's own MeCab analysis; corpus: the data's POS column",
            choices=("tokenizer", "corpus"),
        ),
        "upos_dim": Setting(int, 16, "size of the universal tag's embedding", minimum=1, shapes_weights=True),
        "pos_dim": Setting(int, 16, "size of each POS level's embedding", minimum=1, shapes_weights=True),
    }
    vocab_tables = {"upos.weight": "upos", "levels.weight": "levels"}
    legacy_init_rank = 2
    DEPTH = 3

    def _tags(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...] | str]:
        """Each token's POS as the model reads it, corpus-long: the tokenizer's levels (a tuple, or
        from `TokenColumns` one comma-joined string) or the corpus column."""
        own = self.config.pos_source == "tokenizer" and self.config.lang == "ja"
        tags: list = []
        for sentence in sentences:
            if own and isinstance(sentence.tokens, TokenColumns):
                these = sentence.tokens.pos
            else:  # () from a part without POS: unknown
                these = [t.pos if own else t.corpus_pos for t in sentence.tokens]
            if None in these:
                if not own:
                    raise self._missing(sentence)
                these = [() if tag is None else tag for tag in these]  # a NUL has no analysis: unknown
            tags += these
        return tags

    def _missing(self, sentence: Sentence) -> EiwaError:
        where = sentence.origin or f"the input {sentence.text[:30]!r}"
        if self.config.lang == "en":
            return EiwaError(
                f"{where}: this model uses part of speech (the pos feature), which raw English text "
                "does not have: give CoNLL input with a POS column "
                "(--format conll --columns token,pos,...)"
            )
        return EiwaError(
            f"{where}: this model reads part of speech from the data's own POS column "
            "(pos_source = corpus), and this input has none"
        )

    def _parts(self, tag: tuple[str, ...] | str) -> tuple[str, tuple[str | None, ...]]:
        """(UPOS, the language's own levels as cumulative names). English has no levels: None, read
        as the unknown level (id 1), so that its row and the classifier's weights for it are trained
        and mean "no level known" to a Japanese model that inherits them (see transfer's new_rows)."""
        from eiwa.resources.upos import level_names, upos_japanese, upos_ptb

        if isinstance(tag, str):  # TokenColumns' "pos1,pos2,pos3,pos4"
            tag = tuple(level or "*" for level in tag.split(","))
        if not tag:  # a token of a corpus part without POS (pos = "missing"): all unknown
            return None, (None,) * self.DEPTH
        if self.config.lang == "en":
            return upos_ptb(tag[0]), (None,) * self.DEPTH
        return upos_japanese(tag), level_names(tag, self.DEPTH)

    @classmethod
    def fit(cls, config, sentences, inputs):
        feature = cls(config)
        upos, levels = Counter(), Counter()
        for tag, count in Counter(feature._tags(sentences)).items():  # in first-seen order
            universal, names = feature._parts(tag)
            if universal is not None:
                upos[universal] += count
            for name in names:
                if name:
                    levels[name] += count
        feature.vocabs = {"upos": Vocab.by_frequency(upos), "levels": Vocab.by_frequency(levels)}
        return feature

    def encode(self, sentences, inputs):
        upos_index, level_index = self.vocabs["upos"].index, self.vocabs["levels"].ids

        def ids(tag):
            universal, names = self._parts(tag)
            # An empty level is padding (0): a Japanese tag with fewer levels; None (English) is unknown (1).
            levels = (1 if n is None else level_index.get(n, 1) if n else 0 for n in names)
            return (1 if universal is None else upos_index(universal), *levels)

        distinct, codes = factorize(self._tags(sentences))  # a few hundred distinct tags: each looked up once
        rows = np.array([ids(tag) for tag in distinct], np.int64).reshape(len(distinct), 1 + self.DEPTH)[codes]
        return FeatureData(
            {"upos": per_sentence(rows[:, 0], sentences), "levels": per_sentence(rows[:, 1:], sentences)}
        )

    def module(self):
        c = self.config
        return PosModule(len(self.vocabs["upos"]), c.upos_dim, len(self.vocabs["levels"]), c.pos_dim, self.DEPTH)


class PosModule(nn.Module):
    """Part of speech: a universal tag embedding (shared by Japanese and English) and embeddings of
    the language's own POS levels (UniDic pos1-pos3 for Japanese; padding for English)."""

    def __init__(self, num_upos: int, upos_dim: int, num_levels: int, level_dim: int, depth: int):
        super().__init__()
        self.upos = nn.Embedding(num_upos, upos_dim, padding_idx=0)
        self.levels = nn.Embedding(num_levels, level_dim, padding_idx=0)
        self.output_dim = upos_dim + depth * level_dim

    def forward(self, inputs: dict) -> torch.Tensor:
        levels = self.levels(inputs["levels"])  # [batch, time, depth, dim]
        return torch.cat([self.upos(inputs["upos"]), levels.flatten(2)], dim=-1)
