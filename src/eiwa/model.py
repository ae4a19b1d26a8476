"""The tagger network: three named modules, `char`, `word` and `classifier`.

    token -> char bigrams -> CharModule (BiLSTM) ----\
                                                      concat -> ClassifierModule (BiLSTM -> linear -> CRF) -> tags
    token -> normalised word -> WordModule ----------/

Parameter names start with the module's name (`char.`, `word.`, `classifier.`), which is what
transfer uses to move modules from one model to another.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import Config
from .encoding import CASES, Batch, FormChunk

MODULES = ("char", "word", "classifier")


class BiLSTM(nn.Module):
    """A bidirectional LSTM over right-padded batches, exact at every real position.

    The backward direction reads each sequence reversed within its own length, so padding only
    ever trails the real items in both directions and never reaches them. This gives what packed
    sequences give, but the backward pass of packed sequences is 2-3x slower on CPUs.
    """

    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        self.forward_lstm = nn.LSTM(input_dim, hidden_dim, batch_first=True)
        self.backward_lstm = nn.LSTM(input_dim, hidden_dim, batch_first=True)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs [batch, time, dim], lengths [batch] -> (outputs [batch, time, 2 * hidden], final states [batch, 2 * hidden])."""
        steps = torch.arange(inputs.shape[1])
        reverse = lengths.unsqueeze(1) - 1 - steps  # position t <-> length - 1 - t
        reverse = torch.where(reverse >= 0, reverse, steps)  # padding stays where it is
        forward_out, _ = self.forward_lstm(inputs)
        reversed_inputs = inputs.gather(1, reverse.unsqueeze(2).expand(-1, -1, inputs.shape[2]))
        backward_reversed, _ = self.backward_lstm(reversed_inputs)
        backward_out = backward_reversed.gather(1, reverse.unsqueeze(2).expand(-1, -1, backward_reversed.shape[2]))
        rows, last = torch.arange(inputs.shape[0]), lengths - 1
        final = torch.cat([forward_out[rows, last], backward_reversed[rows, last]], dim=-1)
        return torch.cat([forward_out, backward_out], dim=-1), final


class CharModule(nn.Module):
    """A word's character bigrams -> embeddings -> BiLSTM; the final states are the word's vector."""

    def __init__(self, num_bigrams: int, embedding_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(num_bigrams, embedding_dim, padding_idx=0)
        self.lstm = BiLSTM(embedding_dim, hidden_dim)
        self.output_dim = 2 * hidden_dim

    def forward(self, chunks: list[FormChunk]) -> torch.Tensor:
        """Chunks of forms (bigram ids [forms, longest], lengths [forms]) -> [all forms, 2 * hidden], in chunk order."""
        return torch.cat([self.lstm(self.embedding(chunk.bigram_ids), chunk.lengths)[1] for chunk in chunks])


class WordModule(nn.Module):
    """A normalised word's embedding plus a small embedding of its casing (lost by lowercasing)."""

    def __init__(self, num_words: int, embedding_dim: int, case_dim: int, singleton_unk_rate: float):
        super().__init__()
        self.embedding = nn.Embedding(num_words, embedding_dim, padding_idx=0)
        self.case_embedding = nn.Embedding(len(CASES), case_dim, padding_idx=0)
        self.singleton_unk_rate = singleton_unk_rate
        self.output_dim = embedding_dim + case_dim

    def forward(self, word_ids: torch.Tensor, case_ids: torch.Tensor, singletons: torch.Tensor) -> torch.Tensor:
        if self.training and self.singleton_unk_rate > 0:
            # Lample et al.: words seen once in training are sometimes replaced by the unknown word,
            # so that its embedding is trained for the unseen words met at test time.
            drop = singletons & (torch.rand(word_ids.shape) < self.singleton_unk_rate)
            word_ids = word_ids.masked_fill(drop, 1)
        return torch.cat([self.embedding(word_ids), self.case_embedding(case_ids)], dim=-1)


class ClassifierModule(nn.Module):
    """Token vectors -> dropout -> word-level BiLSTM -> dropout -> tag scores -> CRF (or softmax)."""

    def __init__(self, input_dim: int, hidden_dim: int, num_tags: int, dropout: float, decoder: str):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.lstm = BiLSTM(input_dim, hidden_dim)
        self.output = nn.Linear(2 * hidden_dim, num_tags)
        self.decoder = decoder
        if decoder == "crf":
            self.crf = CRF(num_tags)

    def emissions(self, token_vectors: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.dropout(token_vectors), lengths)
        return self.output(self.dropout(hidden))

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per sentence."""
        if self.decoder == "crf":
            return (self.crf.log_partition(emissions, mask) - self.crf.score(emissions, tags, mask)).mean()
        token_loss = nn.functional.cross_entropy(emissions.transpose(1, 2), tags, reduction="none")
        return (token_loss * mask).sum() / emissions.shape[0]

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag ids [batch, time] (padding positions hold 0)."""
        if self.decoder == "crf":
            return self.crf.viterbi(emissions, mask)
        return emissions.argmax(-1).masked_fill(~mask, 0)


class CRF(nn.Module):
    """Linear-chain CRF, vectorised over the batch: the only loop is over time steps."""

    def __init__(self, num_tags: int):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score of the given tag paths: [batch]."""
        maskf = mask.to(emissions.dtype)
        emitted = (emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * maskf).sum(1)
        moved = (self.transitions[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return emitted + moved + self.start[tags[:, 0]] + self.end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log of the sum over all tag paths of exp(score): [batch] (the forward algorithm)."""
        alpha = self.start + emissions[:, 0]  # [batch, tags]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        best = self.start + emissions[:, 0]
        backpointers = []
        for t in range(1, emissions.shape[1]):
            candidates = best.unsqueeze(2) + self.transitions  # [batch, from, to]
            top, source = candidates.max(dim=1)
            active = mask[:, t].unsqueeze(1)
            best = torch.where(active, top + emissions[:, t], best)
            # Past a sentence's end, each tag points to itself so the path is carried through.
            backpointers.append(torch.where(active, source, torch.arange(best.shape[1]).expand_as(source)))
        tag = (best + self.end).argmax(dim=1)
        path = [tag]
        for source in reversed(backpointers):
            tag = source.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path.reverse()
        return torch.stack(path, dim=1).masked_fill(~mask, 0)


class NERModel(nn.Module):
    """char + word -> classifier. Attribute names are the module names used by transfer."""

    def __init__(self, config: Config, num_words: int, num_bigrams: int, num_tags: int):
        super().__init__()
        self.char = CharModule(num_bigrams, config.char_embedding_dim, config.char_hidden_dim)
        self.word = WordModule(num_words, config.word_embedding_dim, config.case_embedding_dim, config.singleton_unk_rate)
        self.classifier = ClassifierModule(
            self.char.output_dim + self.word.output_dim, config.hidden_dim, num_tags, config.dropout, config.decoder
        )

    def emissions(self, batch: Batch, form_vectors: torch.Tensor | None = None) -> torch.Tensor:
        """Tag scores [batch, time, tags]. `form_vectors`: the character module's output for every form
        of the encoded corpus, computed once beforehand (inference); otherwise it runs on this batch's forms."""
        if form_vectors is None:
            char_vectors = self.char(batch.form_chunks)[batch.token_forms]  # each distinct form back to its tokens
        else:
            char_vectors = form_vectors[batch.form_ids]
        word_vectors = self.word(batch.word_ids, batch.case_ids, batch.singletons)
        return self.classifier.emissions(torch.cat([word_vectors, char_vectors], dim=-1), batch.lengths)

    def loss(self, batch: Batch) -> torch.Tensor:
        return self.classifier.loss(self.emissions(batch), batch.tag_ids, batch.mask)

    def decode(self, batch: Batch, form_vectors: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier.decode(self.emissions(batch, form_vectors), batch.mask)
