"""The `gazetteer` feature: JMnedict longest-match tags per type group -> embeddings.

A model keeps the lookup it was trained with in its weights (``gazetteer.keys``: the names' 64-bit
keys, sorted, stored as int64; ``gazetteer.masks``: their type groups; about 9 bytes a name, no
strings), so that it tags without jamdict-data or a compiled cache. Older models (saved before the
lookup moved into the weights) hold only the dictionary's fingerprint and read the compiled cache
(eiwa.gazetteer.build), which must hold the same dictionary; :func:`embed_dictionary` gives such a
model its table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
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
    own_tables = ("keys", "masks")
    legacy_init_rank = 4

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        self.gazetteer = None

    @property
    def _table_in_weights(self) -> bool:
        """Whether the model keeps its lookup in the module's buffers (else: the compiled cache)."""
        return bool(self.state.get("names"))

    def dictionary(self):
        """The lookup: the one taken from the weights, or (older models, and training) the compiled
        JMnedict, refused if it differs from the one the model was trained with."""
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
        if self._table_in_weights:
            self.gazetteer = _from_module(module, self.state, self.config.gazetteer_max_tokens)
        else:
            self.dictionary()  # at load time: a model whose dictionary differs fails now, not at its first input

    @classmethod
    def fit(cls, config, sentences, inputs):
        feature = cls(config)
        gazetteer = feature.dictionary()
        feature.state = {"fingerprint": gazetteer.fingerprint(), "groups": list(gazetteer.groups)}
        feature.state.update(_table_state(gazetteer))
        return feature

    def with_vocabs(self, vocabs):
        feature = super().with_vocabs(vocabs)
        feature.gazetteer = self.gazetteer
        return feature

    def initialise(self, module):
        if self._table_in_weights:
            keys, masks = self.dictionary().arrays
            with torch.no_grad():
                module.keys.copy_(torch.from_numpy(np.array(keys.view(np.int64))))
                module.masks.copy_(torch.from_numpy(np.array(masks)))

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

        names = int(self.state.get("names", 0))
        return GazetteerModule(len(self.state["groups"]), len(TAGS), self.config.gazetteer_dim, names)


def embed_dictionary(weights: dict, state: dict, config: dict, log: Callable[[str], None] = lambda line: None) -> bool:
    """Give a saved model's gazetteer the lookup it was trained with, from the compiled JMnedict:
    add it to ``weights`` (name -> tensor) and record it in the feature's ``state`` (vocab.json).

    False if the model keeps its lookup already; an EiwaError if the compiled dictionary is not
    the one the model was trained with."""
    from eiwa.gazetteer.matcher import Gazetteer

    if state.get("names"):
        return False
    gazetteer = Gazetteer.load(language=config.get("lang", "ja"), log=log)
    if gazetteer.fingerprint() != state.get("fingerprint"):
        raise EiwaError(
            f"gazetteer: the model was trained with dictionary {state.get('fingerprint')}, but the compiled "
            f"one is {gazetteer.fingerprint()}: compile the same jamdict-data version first"
        )
    keys, masks = gazetteer.arrays
    weights["gazetteer.keys"] = torch.from_numpy(np.array(keys.view(np.int64)))
    weights["gazetteer.masks"] = torch.from_numpy(np.array(masks))
    state.update(_table_state(gazetteer))
    return True


def _table_state(gazetteer) -> dict:
    """What vocab.json records of the lookup kept in the weights: its size, length range and origin."""
    shortest, longest = gazetteer.length_range
    meta = gazetteer.meta
    origin = {key: meta[key] for key in ("source", "licence", "language") if key in meta}
    return {"names": len(gazetteer), "min_length": shortest, "max_length": longest, "dictionary": origin}


def _from_module(module, state: dict, max_tokens: int):
    """The lookup kept in a loaded module's buffers (the weights file's checksum covers them)."""
    from eiwa.gazetteer.matcher import Gazetteer

    return Gazetteer.from_arrays(
        module.keys.detach().cpu().numpy(),
        module.masks.detach().cpu().numpy(),
        state["min_length"],
        state["max_length"],
        state.get("dictionary"),
        max_tokens=max_tokens,
        fingerprint=state.get("fingerprint"),
    )


def _matchable_words(sentences: Sequence[Sentence]) -> list[list[str]]:
    """Each sentence's words as the dictionary can read them: a lone surrogate (text from the API may
    hold one) as U+FFFD, as the tokenizer reads it; no name contains either."""
    from eiwa.tokenize.japanese import encodable

    return [s.words if encodable(s.text) == s.text else [encodable(w) for w in s.words] for s in sentences]


class GazetteerModule(nn.Module):
    """Name-dictionary matches: per type group, an embedding of its tag (O, B, I, E, S). With
    ``names`` > 0 it keeps the lookup too (``keys``, ``masks``: read by the feature, never by ``forward``)."""

    def __init__(self, groups: int, tags: int, dim: int, names: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(1 + groups * tags, dim, padding_idx=0)
        self.register_buffer("offsets", 1 + tags * torch.arange(groups), persistent=False)
        if names:  # filled by the feature or by loading, so left uninitialised: no memory until then
            self.register_buffer("keys", torch.empty(names, dtype=torch.int64))
            self.register_buffer("masks", torch.empty(names, dtype=torch.uint8))
        self.output_dim = groups * dim

    def forward(self, inputs: dict) -> torch.Tensor:
        tags = inputs["tags"]  # [batch, time, groups], values index the tag names
        return self.embedding(tags + self.offsets).flatten(2)
