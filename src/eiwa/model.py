"""The tagger network: one named module per token feature, and `classifier`.

    token -> feature module 1 --\
    token -> feature module 2 ---+- concat -> ClassifierModule (BiLSTM -> linear -> CRF) -> tags
    token -> ...              --/

Which feature modules a model has is set by its config (eiwa.features holds the registry, and each
feature's module in its file); each takes its batch inputs (a dict of tensors) and returns
[batch, time, output_dim]. Parameter names start with the module's name (the feature's, or
`classifier.`), which is what transfer uses to move modules from one model to another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from eiwa.features.encoder import Batch


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
        """inputs [batch, time, dim], lengths [batch] -> (outputs [batch, time, 2 * hidden],
        final states [batch, 2 * hidden])."""
        steps = torch.arange(inputs.shape[1], device=inputs.device)
        reverse = lengths.unsqueeze(1) - 1 - steps  # position t <-> length - 1 - t
        reverse = torch.where(reverse >= 0, reverse, steps)  # padding stays where it is
        forward_out, _ = self.forward_lstm(inputs)
        reversed_inputs = inputs.gather(1, reverse.unsqueeze(2).expand(-1, -1, inputs.shape[2]))
        backward_reversed, _ = self.backward_lstm(reversed_inputs)
        backward_out = backward_reversed.gather(1, reverse.unsqueeze(2).expand(-1, -1, backward_reversed.shape[2]))
        rows, last = torch.arange(inputs.shape[0], device=inputs.device), lengths - 1
        final = torch.cat([forward_out[rows, last], backward_reversed[rows, last]], dim=-1)
        return torch.cat([forward_out, backward_out], dim=-1), final

    def input_gates(self, inputs: torch.Tensor) -> torch.Tensor:
        """[..., dim] -> [2, ..., 4 * hidden]: each direction's input projection with both its biases,
        what its recurrence adds to at every step (`from_gates`)."""
        return torch.stack(
            [
                nn.functional.linear(inputs, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)
                for lstm in (self.forward_lstm, self.backward_lstm)
            ]
        )

    def from_gates(self, gates: torch.Tensor, rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The outputs of `forward` from a table of input gates [2, tokens, 4 * hidden] (`input_gates`
        of distinct tokens, for inference) and each position's row in it [batch, time]: the two
        directions' recurrences run together, one batched product per step."""
        steps = torch.arange(rows.shape[1], device=rows.device)
        reverse = lengths.unsqueeze(1) - 1 - steps
        reverse = torch.where(reverse >= 0, reverse, steps)
        index = torch.stack([rows, rows.gather(1, reverse) + gates.shape[1]])  # rows of the flattened table
        recurrent = torch.stack([self.forward_lstm.weight_hh_l0, self.backward_lstm.weight_hh_l0]).transpose(1, 2)
        forward_out, backward_reversed = _recurrence(gates.reshape(-1, gates.shape[2]), index, recurrent)
        backward_out = backward_reversed.gather(1, reverse.unsqueeze(2).expand(-1, -1, backward_reversed.shape[2]))
        return torch.cat([forward_out, backward_out], dim=-1)


def _recurrence(gates: torch.Tensor, index: torch.Tensor, recurrent: torch.Tensor) -> torch.Tensor:
    """LSTM steps for several independent LSTMs at once: input gates are rows of `gates`
    [rows, 4 * hidden] chosen by `index` [lstms, batch, time]; recurrent weights [lstms, hidden,
    4 * hidden] -> hidden states [lstms, batch, time, hidden]. Gates in PyTorch's order: input,
    forget, cell, output."""
    lstms, batch, steps = index.shape
    hidden = recurrent.shape[1]
    h = gates.new_zeros(lstms, batch, hidden)
    c = gates.new_zeros(lstms, batch, hidden)
    outputs = gates.new_empty(lstms, batch, steps, hidden)
    for t in range(steps):
        i, f, cell, o = torch.baddbmm(gates[index[:, :, t]], h, recurrent).chunk(4, dim=2)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(cell)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs[:, :, t] = h
    return outputs


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

    def emissions_from_gates(self, gates: torch.Tensor, rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`emissions` in eval mode (no dropout) from a table of the BiLSTM's input gates and each
        position's row in it (BiLSTM.from_gates)."""
        return self.output(self.lstm.from_gates(gates, rows, lengths))

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per sentence."""
        if self.decoder == "crf":
            return (self.crf.log_partition(emissions, mask) - self.crf.score(emissions, tags, mask)).mean()
        token_loss = nn.functional.cross_entropy(emissions.transpose(1, 2), tags, reduction="none")
        return (token_loss * mask).sum() / emissions.shape[0]

    def soft_loss(self, emissions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy per sentence against target tag distributions per token [batch, time, tags]."""
        if self.decoder == "crf":
            return self.crf.soft_loss(emissions, targets, mask).mean()
        token_loss = -(targets * torch.log_softmax(emissions, -1)).sum(-1)
        return (token_loss * mask).sum() / emissions.shape[0]

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(tag) of every token [batch, time, tags]: the CRF's exact marginals, or the softmax."""
        if self.decoder == "crf":
            return self.crf.marginals(emissions, mask)
        return torch.softmax(emissions, -1) * mask.unsqueeze(2)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag ids [batch, time] (padding positions hold 0)."""
        if self.decoder == "crf":
            return self.crf.viterbi(emissions, mask)
        return emissions.argmax(-1).masked_fill(~mask, 0)

    def path_log_probabilities(self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> PathScores:
        """What the log-probability of any stretch of the decoded path is made of (see PathScores)."""
        if self.decoder == "crf":
            return self.crf.path_scores(emissions, mask, tags)
        # Softmax: tokens are independent, a stretch's log-probability is the sum of its tokens'.
        token = torch.log_softmax(emissions, -1).gather(2, tags.unsqueeze(2)).squeeze(2) * mask
        zeros = torch.zeros_like(token)
        return PathScores(zeros, token.cumsum(1), zeros, torch.zeros(emissions.shape[0], device=emissions.device))


class PathScores(NamedTuple):
    """For a decoded path y and a stretch of tokens s..e (inclusive) of one sentence:
    log P(y_s..y_e) = at_start[s] + (cumulative[e] - cumulative[s]) + at_end[e] - log_partition,
    the exact CRF marginal of those tags (forward-backward). Arrays are [batch, time]."""

    at_start: torch.Tensor  # alpha_s(y_s): every path into s ending in y_s, its emission included
    cumulative: torch.Tensor  # sum over t <= s of transition(y_t-1, y_t) + emission(y_t)
    at_end: torch.Tensor  # beta_e(y_e): every path out of e from y_e, to the end
    log_partition: torch.Tensor  # [batch]

    def span_probabilities(self, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """P of the decoded tags over tokens starts..ends-1 of each row, for many spans at once."""
        last = ends - 1
        log_p = (
            self.at_start[rows, starts]
            + self.cumulative[rows, last]
            - self.cumulative[rows, starts]
            + self.at_end[rows, last]
            - self.log_partition[rows]
        )
        return np.minimum(np.exp(log_p.detach().cpu().numpy()), 1.0)


class _Passes(NamedTuple):
    """The scaled forward-backward: alphas and betas [batch, time, tags] with rows summing to one,
    their log scales [batch, time], and log Z [batch]."""

    alphas: torch.Tensor
    alpha_logs: torch.Tensor
    betas: torch.Tensor
    beta_logs: torch.Tensor
    log_partition: torch.Tensor


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

    def path_scores(self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> PathScores:
        """Forward and backward log-scores read along `tags` (see PathScores); two passes over time."""
        e = emissions.double()
        passes = self._forward_backward(e, mask)
        on_path = tags.unsqueeze(2)
        # float64 throughout: the terms are sums over whole sentences, and a probability is their difference
        steps_along = e.gather(2, on_path).squeeze(2)
        steps_along[:, 1:] += self.transitions.double()[tags[:, :-1], tags[:, 1:]]
        steps_along[:, 0] = 0  # the first token's emission is in at_start
        at_start = torch.log(passes.alphas.gather(2, on_path).squeeze(2)) + passes.alpha_logs
        at_end = torch.log(passes.betas.gather(2, on_path).squeeze(2)) + passes.beta_logs
        return PathScores(at_start, steps_along.cumsum(1), at_end, passes.log_partition)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(y_t = k) for every token and tag [batch, time, tags] (float32; padding rows are zero)."""
        passes = self._forward_backward(emissions.double(), mask)
        both = passes.alphas * passes.betas  # each row's scales are constant over tags: normalising undoes them
        marginals = both / both.sum(dim=2, keepdim=True)
        return (marginals * mask.unsqueeze(2)).float()

    def _forward_backward(self, e: torch.Tensor, mask: torch.Tensor) -> _Passes:
        """The forward and backward passes over float64 emissions `e`.

        They run on probabilities rescaled at every step (the scaled forward-backward of hidden
        Markov models): a step is a [batch, tags] x [tags, tags] product instead of a log-sum-exp
        over [batch, tags, tags]; each step's log scale is kept to undo the rescaling."""
        batch, steps, _ = e.shape
        top = e.max(dim=2, keepdim=True).values
        weights = torch.exp(e - top)  # [batch, time, tags]
        move_top = self.transitions.max().double()
        move = torch.exp(self.transitions.double() - move_top)
        start, end = self.start.double(), self.end.double()
        alpha, alpha_log = _scaled(torch.exp(start - start.max()) * weights[:, 0], start.max() + top[:, 0, 0])
        alphas, alpha_logs = [alpha], [alpha_log]
        for t in range(1, steps):
            alpha, step_log = _scaled((alphas[-1] @ move) * weights[:, t], move_top + top[:, t, 0])
            alphas.append(alpha)
            alpha_logs.append(alpha_logs[-1] + step_log)
        lengths = mask.sum(1)
        rows = torch.arange(batch, device=e.device)
        alphas, alpha_logs = torch.stack(alphas, dim=1), torch.stack(alpha_logs, dim=1)
        last = alphas[rows, lengths - 1]
        log_partition = alpha_logs[rows, lengths - 1] + torch.log(last @ torch.exp(end - end.max())) + end.max()
        betas, beta_logs = _backward(weights, move, move_top, top, end, mask)
        return _Passes(alphas, alpha_logs, betas, beta_logs, log_partition)

    def soft_loss(self, emissions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy [batch] of this CRF's path distribution against target tag distributions per
        token (a teacher's marginals): E_q[-log P(y)] under q(y) = prod_t q_t(y_t). With one-hot
        targets it is the negative log-likelihood of that path; one forward pass, like `score`."""
        maskf = mask.to(emissions.dtype).unsqueeze(2)
        q = targets * maskf
        emitted = (q * emissions).sum(dim=(1, 2))
        moved = torch.einsum("bti,ij,btj->b", q[:, :-1], self.transitions, q[:, 1:])
        last = q.gather(1, (mask.sum(1) - 1).view(-1, 1, 1).expand(-1, 1, q.shape[2])).squeeze(1)
        expected_score = emitted + moved + q[:, 0] @ self.start + last @ self.end
        return self.log_partition(emissions, mask) - expected_score

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        best = self.start + emissions[:, 0]
        backpointers = []
        for t in range(1, emissions.shape[1]):
            candidates = best.unsqueeze(2) + self.transitions  # [batch, from, to]
            top, source = candidates.max(dim=1)
            active = mask[:, t].unsqueeze(1)
            best = torch.where(active, top + emissions[:, t], best)
            # Past a sentence's end, each tag points to itself so the path is carried through.
            itself = torch.arange(best.shape[1], device=best.device).expand_as(source)
            backpointers.append(torch.where(active, source, itself))
        tag = (best + self.end).argmax(dim=1)
        path = [tag]
        for source in reversed(backpointers):
            tag = source.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path.reverse()
        return torch.stack(path, dim=1).masked_fill(~mask, 0)


def _scaled(values: torch.Tensor, log_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows rescaled to sum to one, and the log of what was taken out (plus `log_scale`)."""
    total = values.sum(dim=1)
    return values / total.unsqueeze(1), torch.log(total) + log_scale


def _backward(weights, move, move_top, top, end, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """The scaled backward pass: beta [batch, time, tags] (rows summing to one) and their log scales
    [batch, time]. Past a sentence's end, and at its last token, beta is the end score."""
    batch, steps, _ = weights.shape
    at_end, end_log = _scaled(torch.exp(end - end.max()).expand(batch, -1), end.max().expand(batch))
    betas, logs = [at_end], [end_log]
    for t in range(steps - 2, -1, -1):
        beta, step_log = _scaled((weights[:, t + 1] * betas[-1]) @ move.T, move_top + top[:, t + 1, 0])
        step_log = step_log + logs[-1]
        real = mask[:, t + 1]
        betas.append(torch.where(real.unsqueeze(1), beta, at_end))
        logs.append(torch.where(real, step_log, end_log))
    return torch.stack(betas[::-1], dim=1), torch.stack(logs[::-1], dim=1)


class NERModel(nn.Module):
    """Feature modules -> classifier. Attribute names are the module names used by transfer."""

    def __init__(
        self,
        features: dict[str, nn.Module],
        input_order: Sequence[str],
        hidden_dim: int,
        num_tags: int,
        dropout: float,
        decoder: str,
    ):
        """`features` in the order their parameters are listed; `input_order`: the order the classifier
        reads their outputs in (Encoder.input_order: a saved model's layout)."""
        super().__init__()
        self.feature_names = list(input_order)
        for name, module in features.items():
            self.add_module(name, module)
        self.classifier = ClassifierModule(
            sum(m.output_dim for m in features.values()), hidden_dim, num_tags, dropout, decoder
        )

    def layout(self) -> list[tuple[str, int]]:
        """(feature, width) of each block of the classifier's input, in order."""
        return [(name, getattr(self, name).output_dim) for name in self.feature_names]

    def token_vectors(self, inputs: dict[str, dict]) -> torch.Tensor:
        """Every feature module's output for the tokens, concatenated in the classifier's order."""
        return torch.cat([getattr(self, name)(inputs[name]) for name in self.feature_names], dim=-1)

    def emissions(self, batch: Batch) -> torch.Tensor:
        """Tag scores [batch, time, tags]."""
        return self.classifier.emissions(self.token_vectors(batch.inputs), batch.lengths)

    def loss(self, batch: Batch) -> torch.Tensor:
        return self.classifier.loss(self.emissions(batch), batch.tag_ids, batch.mask)

    def soft_loss(self, batch: Batch, targets: torch.Tensor) -> torch.Tensor:
        """The loss against a teacher's tag distributions per token [batch, time, tags]."""
        return self.classifier.soft_loss(self.emissions(batch), targets, batch.mask)

    def marginals(self, batch: Batch) -> torch.Tensor:
        return self.classifier.marginals(self.emissions(batch), batch.mask)

    def decode(self, batch: Batch) -> torch.Tensor:
        return self.classifier.decode(self.emissions(batch), batch.mask)

    def decode_with_scores(self, batch: Batch) -> tuple[torch.Tensor, PathScores]:
        """The best tags and what gives each stretch of them its probability (an entity's confidence)."""
        emissions = self.emissions(batch)
        tags = self.classifier.decode(emissions, batch.mask)
        return tags, self.classifier.path_log_probabilities(emissions, batch.mask, tags)
