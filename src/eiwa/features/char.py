"""The `char` feature: a token's overlapping character bigrams -> embeddings -> BiLSTM."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from torch import nn

from eiwa.features.base import Feature, Setting, register
from eiwa.features.encoder import FeatureData, FormChunk, factorize, form_chunks, pad, per_sentence
from eiwa.features.vocab import Vocab, bigrams
from eiwa.model import BiLSTM

_KEPT_FORMS = 200_000  # about 25 MB of bigram ids


@register
class CharFeature(Feature):
    """Overlapping character bigrams of the token (native script or romaji).

    Each token carries an index into the corpus's table of distinct forms; the module runs once
    per distinct form of a batch (training) or of the whole input (inference: `precompute`).
    """

    name = "char"
    settings = {
        "char_embedding_dim": Setting(int, 25, "size of a bigram's embedding", minimum=1, shapes_weights=True),
        "char_hidden_dim": Setting(
            int, 25, "hidden units per direction of the character BiLSTM", minimum=1, shapes_weights=True
        ),
        "char_lowercase": Setting(bool, False, "lowercase forms before taking their bigrams", shapes_weights=True),
    }
    vocab_tables = {"embedding.weight": "bigrams"}
    legacy_init_rank = 0

    @classmethod
    def fit(cls, config, sentences, inputs):
        counts: Counter[str] = Counter()
        for sentence in sentences:
            for form in inputs.char_forms(sentence):
                counts.update(bigrams(form))
        return cls(config, {"bigrams": Vocab.by_frequency(counts)})

    def encode(self, sentences, inputs):
        views, codes = inputs.distinct_char_forms(sentences)
        forms, form_of_view = factorize(views)  # two surfaces may share a romaji form
        table, lengths = self._bigram_table(forms)
        return FeatureData(
            {"form_ids": per_sentence(form_of_view[codes], sentences)}, {"form_bigrams": table, "form_lengths": lengths}
        )

    def _bigram_table(self, forms: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """[forms, longest] bigram ids (right-padded) and [forms] lengths, filled in one NumPy step."""
        rows = self._bigram_rows(forms) or [np.zeros(1, np.int64)]
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        return torch.from_numpy(pad(rows, lengths)), torch.from_numpy(lengths)

    def _bigram_rows(self, forms: list[str]) -> list[np.ndarray]:
        """Each form's bigram ids, kept across calls for up to `_KEPT_FORMS` forms: the forms of a
        stream of texts recur (few are new after the first thousand texts)."""
        kept = self.__dict__.setdefault("_kept_rows", {})
        new = [form for form in forms if form not in kept]
        if len(kept) + len(new) > _KEPT_FORMS:
            kept.clear()
        index = self.vocabs["bigrams"].index
        for form in new:
            ids = bigrams(form)
            kept[form] = np.fromiter(map(index, ids), np.int64, len(ids))
        return [kept[form] for form in forms]

    def batch(self, data, indices, lengths):
        forms = pad([data.columns["form_ids"][i] for i in indices], lengths)
        mask = np.arange(forms.shape[1])[None, :] < lengths[:, None]
        # Run the character module once per distinct form in the batch.
        distinct, token_forms = np.unique(forms[mask], return_inverse=True)
        chunks, chunk_row = form_chunks(data.shared["form_lengths"], data.shared["form_bigrams"], distinct)
        grid = np.zeros(forms.shape, np.int64)
        grid[mask] = chunk_row[token_forms]
        return {"form_ids": torch.from_numpy(forms), "token_forms": torch.from_numpy(grid), "form_chunks": chunks}

    def inference_batch(self, data, indices, lengths):
        return {"form_ids": torch.from_numpy(pad([data.columns["form_ids"][i] for i in indices], lengths))}

    def precompute(self, module, data, run, device):
        """The vector of every distinct form of the corpus, in chunks of similar length."""
        chunks, row = form_chunks(data.shared["form_lengths"], data.shared["form_bigrams"])
        vectors = torch.cat(list(run(lambda chunk: module.forms([chunk.to(device)]), chunks)))
        return {"form_vectors": vectors[torch.from_numpy(row).to(device)]}

    def module(self):
        return CharModule(len(self.vocabs["bigrams"]), self.config.char_embedding_dim, self.config.char_hidden_dim)


class CharModule(nn.Module):
    """A word's character bigrams -> embeddings -> BiLSTM; the final states are the word's vector."""

    def __init__(self, num_bigrams: int, embedding_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(num_bigrams, embedding_dim, padding_idx=0)
        self.lstm = BiLSTM(embedding_dim, hidden_dim)
        self.output_dim = 2 * hidden_dim

    def forward(self, inputs: dict) -> torch.Tensor:
        """Each token's vector: from `form_vectors` (every form of the corpus, see CharFeature.precompute)
        when the inputs have it, else by running on the batch's distinct forms."""
        if "form_vectors" in inputs:
            return inputs["form_vectors"][inputs["form_ids"]]
        return self.forms(inputs["form_chunks"])[inputs["token_forms"]]  # each distinct form back to its tokens

    def forms(self, chunks: list[FormChunk]) -> torch.Tensor:
        """Chunks of forms (bigram ids [forms, longest], lengths [forms]) -> [all forms, 2 * hidden], in chunk order."""
        return torch.cat([self.lstm(self.embedding(chunk.bigram_ids), chunk.lengths)[1] for chunk in chunks])
