"""The `vectors` feature: pretrained word vectors (a key -> row table kept with the model) -> projection.

The model keeps the whole table: the rows as a float16 buffer (``table``) and the key index
beside them as two more buffers (``keys``: spaCy's 64-bit string keys, sorted, stored as
int64; ``key_rows``: the row of each), so that loading a model parses no strings and the weights
file can be memory-mapped. Older models keep the key strings in vocab.json; they load as
they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from eiwa.doc import Sentence
from eiwa.features.base import Feature, Setting, register
from eiwa.features.encoder import FeatureData, factorize, per_sentence, tokens_of


@register
class VectorsFeature(Feature):
    """Pretrained word vectors (chiVe), looked up by surface, then dictionary form, then normalised form.

    chiVe comes from ja-ginza's vocab/. The model keeps the whole key -> row index and the distinct
    rows (float16), so that words never seen in training still get their vectors; a linear
    projection brings them to `vectors_dim`, so that the table's size never shapes the classifier.
    Only the index and rows are read: tagging with a saved model needs neither ja-ginza nor spaCy.
    """

    name = "vectors"
    settings = {
        "vectors_table": Setting(
            str, "chive", "chive: ja-ginza's vocab/ (pip install 'eiwa[vectors]'); or a spaCy vocab folder path"
        ),
        "vectors_dim": Setting(int, 100, "size the vectors are projected to", minimum=1, shapes_weights=True),
        "vectors_trainable": Setting(bool, False, "fine-tune the pretrained rows (kept as float32, not float16)"),
    }
    own_tables = ("table", "keys", "key_rows")
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

    @property
    def _index_in_weights(self) -> bool:
        """Whether the key index lives in the module's buffers (else in vocab.json: older models)."""
        return "keys" not in self.state["table"]

    def attach(self, module):
        from eiwa.resources.chive import VectorTable

        rows = module.table.detach()[:-1].to(torch.float16).numpy()
        keys = key_rows = None
        if self._index_in_weights:
            keys, key_rows = module.keys.detach().cpu().numpy(), module.key_rows.detach().cpu().numpy()
        self.table = VectorTable.from_saved(
            self.state["table"], rows, keys, key_rows, check=not self.config.vectors_trainable
        )

    def encode(self, sentences, inputs):
        pairs, codes = factorize(list(zip(tokens_of(sentences, "words"), tokens_of(sentences, "lemmas"))))
        found = self.table.lookup([word for word, _ in pairs], [lemma for _, lemma in pairs])[codes]
        found[found < 0] = self.state["rows"]  # the extra zero row
        return FeatureData({"rows": per_sentence(found, sentences)})

    def coverage(self, sentences: Sequence[Sentence]) -> dict:
        return self.table.coverage(tokens_of(sentences, "words"), tokens_of(sentences, "lemmas"))

    def module(self):
        c = self.config
        keys = int(self.state["table"]["n_keys"]) if self._index_in_weights else 0
        return VectorsModule(self.state["rows"] + 1, self.state["dim"], c.vectors_dim, c.vectors_trainable, keys)

    def initialise(self, module):
        with torch.no_grad():
            module.table[:-1] = torch.from_numpy(np.array(self.table.rows)).to(module.table.dtype)
            if self._index_in_weights:
                module.keys.copy_(torch.from_numpy(np.array(self.table.keys.view(np.int64))))
                module.key_rows.copy_(torch.from_numpy(np.array(self.table.key_rows)))

    def lines(self, sentences):
        found = self.coverage(sentences)
        return [
            f"vectors: {self.table.source}, {len(self.table):,} keys over {self.state['rows']:,} rows of "
            f"{self.state['dim']} dimensions, projected to {self.config.vectors_dim}; {found['share']:.1%} of "
            f"training tokens have a vector ({found['by_surface']:,} by surface, {found['by_lemma']:,} by "
            f"dictionary form, {found['by_normalised']:,} by normalised form)"
        ]


def embed_key_index(weights: dict, state: dict, config: dict) -> bool:
    """Move a saved model's key index (older models: the key strings in vocab.json) into its weights:
    add the ``keys`` and ``key_rows`` buffers to ``weights`` and keep only the table's record in the
    feature's ``state``. False if the index is there already."""
    from eiwa.resources.chive import VectorTable

    if "keys" not in state["table"]:
        return False
    rows = weights["vectors.table"][:-1].to(torch.float16).numpy()
    table = VectorTable.from_saved(state["table"], rows, check=not config.get("vectors_trainable", False))
    table.source = str(state["table"].get("source", table.source))
    weights["vectors.keys"] = torch.from_numpy(np.array(table.keys.view(np.int64)))
    weights["vectors.key_rows"] = torch.from_numpy(np.array(table.key_rows))
    state["table"] = table.to_json()
    return True


class VectorsModule(nn.Module):
    """Pretrained vectors (the last row: zeros, for words without one) -> linear projection.

    Frozen tables are kept as a float16 buffer (half the size on disk and in memory); trainable
    ones as a float32 parameter. With ``keys`` > 0 the key index is kept too (``keys``, ``key_rows``:
    read by the feature, never by ``forward``)."""

    def __init__(self, rows: int, dim: int, output_dim: int, trainable: bool, keys: int = 0):
        super().__init__()
        # The rows, keys and key rows are filled by the feature or by loading, so they are left
        # uninitialised (no memory until then); only the last row's zeros are written.
        if trainable:
            self.table = nn.Parameter(torch.zeros(rows, dim))
        else:
            self.register_buffer("table", torch.empty(rows, dim, dtype=torch.float16))
            self.table[-1] = 0
        if keys:
            self.register_buffer("keys", torch.empty(keys, dtype=torch.int64))
            self.register_buffer("key_rows", torch.empty(keys, dtype=torch.int32))
        self.projection = nn.Linear(dim, output_dim)
        self.output_dim = output_dim

    def forward(self, inputs: dict) -> torch.Tensor:
        return self.projection(nn.functional.embedding(inputs["rows"], self.table).float())
