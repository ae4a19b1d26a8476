"""The `gazetteer` feature: JMnedict longest-match tags per type group -> embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.features.base import Feature, Setting, register
from eiwa.features.encoder import FeatureData


@register
class GazetteerFeature(Feature):
    """Name dictionary (JMnedict): per type group, where the token lies in the longest dictionary match.

    A token begins, continues or ends the longest match over the sentence's tokens, or is a
    one-token match. Japanese reads JMnedict's kanji and kana spellings, English its English glosses
    (the same types), so that the module of an English source means the same thing to a Japanese target.
    """

    name = "gazetteer"
    settings = {
        "gazetteer_dim": Setting(int, 8, "size of each type group's tag embedding", minimum=1, shapes_weights=True),
        "gazetteer_max_tokens": Setting(int, 6, "longest match considered, in tokens", minimum=1),
    }
    legacy_init_rank = 4

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        self.gazetteer = None

    def dictionary(self):
        from eiwa.gazetteer.matcher import Gazetteer

        if self.gazetteer is None:
            self.gazetteer = Gazetteer.load(max_tokens=self.config.gazetteer_max_tokens, language=self.config.lang)
            if self.state and self.state.get("fingerprint") != self.gazetteer.fingerprint():
                raise EiwaError(
                    f"gazetteer: the model was trained with dictionary {self.state.get('fingerprint')}, "
                    f"but the compiled one is {self.gazetteer.fingerprint()}: rebuild it from the same "
                    "jamdict-data version (eiwa gazetteer build --force)"
                )
        return self.gazetteer

    def attach(self, module):
        self.dictionary()  # at load time: a model whose dictionary differs fails now, not at its first input

    @classmethod
    def fit(cls, config, sentences, inputs):
        feature = cls(config)
        gazetteer = feature.dictionary()
        feature.state = {"fingerprint": gazetteer.fingerprint(), "groups": list(gazetteer.groups)}
        return feature

    def encode(self, sentences, inputs):
        separator = "" if self.config.lang == "ja" else " "
        return FeatureData({"tags": self.dictionary().match_many(_matchable_words(sentences), separator)})

    def lines(self, sentences):
        separator = "" if self.config.lang == "ja" else " "
        stats = self.dictionary().statistics(_matchable_words(sentences), separator)
        shares = ", ".join(f"{group} {share:.1%}" for group, share in stats["share"].items())
        return [f"gazetteer: {stats['share_any']:.1%} of training tokens inside a dictionary match ({shares})"]

    def module(self):
        from eiwa.gazetteer.matcher import TAGS

        return GazetteerModule(len(self.state["groups"]), len(TAGS), self.config.gazetteer_dim)


def _matchable_words(sentences: Sequence[Sentence]) -> list[list[str]]:
    """Each sentence's words as the dictionary can read them: a lone surrogate (text from the API may
    hold one) as U+FFFD, as the tokenizer reads it; no name contains either."""
    from eiwa.tokenize.japanese import encodable

    return [s.words if encodable(s.text) == s.text else [encodable(w) for w in s.words] for s in sentences]


class GazetteerModule(nn.Module):
    """Name-dictionary matches: per type group, an embedding of its tag (O, B, I, E, S)."""

    def __init__(self, groups: int, tags: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(1 + groups * tags, dim, padding_idx=0)
        self.register_buffer("offsets", 1 + tags * torch.arange(groups), persistent=False)
        self.output_dim = groups * dim

    def forward(self, inputs: dict) -> torch.Tensor:
        tags = inputs["tags"]  # [batch, time, groups], values index the tag names
        return self.embedding(tags + self.offsets).flatten(2)
