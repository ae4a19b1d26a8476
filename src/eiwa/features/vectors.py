"""The `vectors` feature: pretrained word vectors (a key -> row table kept with the model) -> projection."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from eiwa.doc import Sentence
from eiwa.features.base import Feature, Setting, register
from eiwa.features.encoder import FeatureData


@register
class VectorsFeature(Feature):
    """Pretrained word vectors (chiVe), looked up by surface, then dictionary form, then normalised form.

    chiVe comes from ja-ginza's vocab/. The model keeps the whole key -> row index and the distinct
    rows (float16), so that words never seen in training still get their vectors; a linear
    projection brings them to `vectors_dim`, so that the table's size never shapes the classifier.
    """

    name = "vectors"
    settings = {
        "vectors_table": Setting(
            str, "chive", "chive: ja-ginza's vocab/ (pip install 'eiwa[vectors]'); or a spaCy vocab folder"
        ),
        "vectors_dim": Setting(int, 100, "size the vectors are projected to", minimum=1, shapes_weights=True),
        "vectors_trainable": Setting(bool, False, "fine-tune the pretrained rows (kept as float32, not float16)"),
    }
    own_tables = ("table",)
    legacy_init_rank = 3

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        self.table = None  # the VectorTable (key index; rows live in the module)

    @classmethod
    def fit(cls, config, sentences, inputs):
        from eiwa.resources.chive import VectorTable

        feature = cls(config)
        feature.table = VectorTable.load(config.vectors_table)
        feature.state = {
            "table": feature.table.to_json(),
            "rows": int(feature.table.rows.shape[0]),
            "dim": int(feature.table.dim),
        }
        return feature

    def with_vocabs(self, vocabs):
        feature = super().with_vocabs(vocabs)
        feature.table = self.table
        return feature

    def attach(self, module):
        from eiwa.resources.chive import VectorTable

        rows = module.table.detach()[:-1].to(torch.float16).numpy()
        self.table = VectorTable.from_json(self.state["table"], rows, check=not self.config.vectors_trainable)

    def encode(self, sentences, inputs):
        missing = self.state["rows"]  # the extra zero row
        rows = []
        for sentence in sentences:
            found = self.table.lookup(sentence.words, [t.lemma for t in sentence.tokens])
            rows.append(np.where(found < 0, missing, found))
        return FeatureData({"rows": rows})

    def coverage(self, sentences: Sequence[Sentence]) -> dict:
        words = [w for s in sentences for w in s.words]
        lemmas = [t.lemma for s in sentences for t in s.tokens]
        return self.table.coverage(words, lemmas)

    def module(self):
        c = self.config
        return VectorsModule(self.state["rows"] + 1, self.state["dim"], c.vectors_dim, c.vectors_trainable)

    def initialise(self, module):
        with torch.no_grad():
            module.table[:-1] = torch.from_numpy(np.array(self.table.rows)).to(module.table.dtype)

    def lines(self, sentences):
        found = self.coverage(sentences)
        return [
            f"vectors: {self.table.source}, {len(self.table.keys):,} keys over {self.state['rows']:,} rows of "
            f"{self.state['dim']} dimensions, projected to {self.config.vectors_dim}; {found['share']:.1%} of "
            f"training tokens have a vector ({found['by_surface']:,} by surface, {found['by_lemma']:,} by "
            f"dictionary form, {found['by_normalised']:,} by normalised form)"
        ]


class VectorsModule(nn.Module):
    """Pretrained vectors (the last row: zeros, for words without one) -> linear projection.

    Frozen tables are kept as a float16 buffer (half the size on disk and in memory); trainable
    ones as a float32 parameter."""

    def __init__(self, rows: int, dim: int, output_dim: int, trainable: bool):
        super().__init__()
        if trainable:
            self.table = nn.Parameter(torch.zeros(rows, dim))
        else:
            self.register_buffer("table", torch.zeros(rows, dim, dtype=torch.float16))
        self.projection = nn.Linear(dim, output_dim)
        self.output_dim = output_dim

    def forward(self, inputs: dict) -> torch.Tensor:
        return self.projection(nn.functional.embedding(inputs["rows"], self.table).float())
