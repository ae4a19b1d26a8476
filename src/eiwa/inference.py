"""Tagging encoded sentences: batched decoding, entity confidences, and the shared pool of tagging threads.

On the CPU with more than one torch thread, the features' per-input work and the batches go to a shared
pool of that many threads, each running torch on one thread (a thread-local setting: the caller's and
the process's thread count are left alone): an LSTM of this size uses one core per batch better than
two on one, and many small operations on two OpenMP threads lose most of their time to waking them.
Where torch's thread count is process-wide (no OpenMP), batches run in the caller.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from eiwa.features.encoder import Batch, Encoded, Encoder
from eiwa.model import NERModel
from eiwa.tags import spans_from_tag_ids

_MIN_POOLED_BATCH = 16  # below this many sentences one batch on one thread is fastest
_WINDOW = 8  # batches whose distinct tokens are found together: more share more tokens, and hold more memory
_POOLS: dict[int, ThreadPoolExecutor] = {}  # tagging threads by size, shared by every tagger and call
_POOLS_LOCK = threading.Lock()
os.register_at_fork(after_in_child=_POOLS.clear)  # a forked child has none of the parent's threads


def _one_torch_thread() -> None:
    torch.set_num_threads(1)


@functools.cache
def _thread_local_torch_threads() -> bool:
    """Whether torch.set_num_threads in one thread leaves the others' count alone (so with
    OpenMP, torch's default CPU backend: it sets the calling thread's OpenMP team size)."""
    before = torch.get_num_threads()
    probe = threading.Thread(target=_one_torch_thread)
    probe.start()
    probe.join()
    if torch.get_num_threads() != before:  # process-wide after all: put it back
        torch.set_num_threads(before)
        return False
    return True


def tagging_pool(threads: int) -> ThreadPoolExecutor | None:
    """`threads` threads that each run torch on one thread; None where torch's thread count is
    process-wide (a backend without OpenMP), which a pool would have to flip for everyone."""
    if threads < 2 or not _thread_local_torch_threads():
        return None
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = ThreadPoolExecutor(threads, "eiwa-tagging", initializer=_one_torch_thread)
        return _POOLS[threads]


def _in_inference_mode(function):
    def run_one(item):
        with torch.inference_mode():  # thread-local: each worker enters it
            return function(item)

    return run_one


def tag_encoded(
    model: NERModel, encoder: Encoder, encoded: Encoded, batch_size: int = 64, confidence: bool = False
) -> list[list[tuple]]:
    """Token-index entity spans `(start, end, type)` for every encoded sentence; with `confidence`,
    `(start, end, type, probability)`: the CRF marginal probability of the entity's tags
    (forward-backward; for a softmax decoder, the product of its tokens'). The model is in eval mode."""
    results: list[list[tuple]] = [[] for _ in range(len(encoded))]
    tag = functools.partial(_tag_batch, encoder.tags.items, confidence)
    for batch, spans_of in _by_window(model, encoder, encoded, batch_size, tag):
        for index, spans in zip(batch.indices, spans_of):
            results[index] = spans
    return results


def token_marginals(model: NERModel, encoder: Encoder, encoded: Encoded, batch_size: int = 64) -> list[np.ndarray]:
    """P(tag) of every token of every encoded sentence, [tokens, tags] float32 arrays in the order of
    `encoder.tags.items` (the CRF's exact marginals). The model is in eval mode."""
    results = [np.zeros((0, len(encoder.tags)), dtype=np.float32)] * len(encoded)
    for batch, marginals in _by_window(model, encoder, encoded, batch_size, _batch_marginals):
        for row, (index, length) in enumerate(zip(batch.indices, batch.lengths.tolist())):
            results[index] = marginals[row, :length]
    return results


def _by_window(model: NERModel, encoder: Encoder, encoded: Encoded, batch_size: int, per_batch) -> Iterator[tuple]:
    """(batch, per_batch(model, batch, emissions)) for every batch of `encoded`.

    Batches go in windows of up to `_WINDOW`, each a task for one tagging thread. When every feature
    is token-local, the feature modules and the BiLSTM's input projection run once per distinct token
    of a window (`window_gates`)."""
    device = next(model.parameters()).device
    threads = torch.get_num_threads()
    pool = tagging_pool(threads) if device.type == "cpu" else None
    if pool is not None and len(encoded) > _MIN_POOLED_BATCH:
        # Each thread gets two batches at least (100 texts: 25 a batch, 1.6x faster than 64).
        batch_size = min(batch_size, max(_MIN_POOLED_BATCH, -(-len(encoded) // (2 * threads))))
    run = pool.map if pool else map
    precomputed = encoder.precompute(model, encoded, lambda f, items: run(_in_inference_mode(f), items), device)
    by_token = all(feature.token_local for feature in encoder.features.values())
    window_task = functools.partial(_run_window, model, precomputed, device, by_token, per_batch)
    batches = list(encoder.batches(encoded, batch_size, inference=True))
    # A window is one task for a tagging thread (one torch thread: no OpenMP team to wake per
    # operation), and there are enough windows to keep every thread busy.
    per_window = max(1, min(_WINDOW, -(-len(batches) // threads)))
    windows = [batches[i : i + per_window] for i in range(0, len(batches), per_window)]
    for done in run(_in_inference_mode(window_task), windows):
        yield from done


def _run_window(model: NERModel, precomputed: dict, device, by_token: bool, per_batch, window):
    """Each batch of the window with what `per_batch` makes of its emissions; with `by_token`, the
    feature modules and input projection run once per distinct token of the window."""
    window = [batch.to(device).with_inputs(precomputed) for batch in window]
    gates = window_gates(model, window) if by_token else [None] * len(window)
    done = []
    for batch, batch_gates in zip(window, gates):
        if batch_gates is None:
            emissions = model.emissions(batch)
        else:
            emissions = model.classifier.emissions_from_gates(*batch_gates, batch.lengths)
        done.append((batch, per_batch(model, batch, emissions)))
    return done


def _batch_marginals(model: NERModel, batch: Batch, emissions: torch.Tensor) -> np.ndarray:
    return model.classifier.marginals(emissions, batch.mask).cpu().numpy()


def window_gates(model: NERModel, window: list[Batch]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For each batch: a table of the classifier BiLSTM's input gates [2, tokens, 4 * hidden] and each
    position's row in it [batch, time]. The feature modules and the input projection run once per
    distinct token of the window (one table for all its batches): a token is its integer inputs (every
    [batch, time, ...] tensor of its features'), which decide its vector."""
    keyed = [_token_keys(batch) for batch in window]
    layout, token_rows = keyed[0][0], [rows for _, rows in keyed]
    distinct, inverse = distinct_rows(torch.cat(token_rows))
    inputs: dict[str, dict] = {name: dict(tensors) for name, tensors in window[0].inputs.items()}
    column = 0
    for name, key, shape, dtype in layout:
        width = int(np.prod(shape, dtype=np.int64))
        inputs[name][key] = distinct[:, column : column + width].reshape(1, len(distinct), *shape).to(dtype)
        column += width
    gates = model.classifier.lstm.input_gates(model.token_vectors(inputs)[0])
    result, first = [], 0
    for batch, rows in zip(window, token_rows):
        grid = torch.zeros(batch.mask.shape, dtype=torch.int64, device=gates.device)
        grid[batch.mask] = inverse[first : first + len(rows)]
        first += len(rows)
        result.append((gates, grid))
    return result


def distinct_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`torch.unique(rows, dim=0, return_inverse=True)` (in another order) for non-negative int64 rows,
    some ten times faster: the columns are packed into one int64 number per row, mixed radix, the
    numbers so far replaced by their rank among the distinct ones whenever the next column would
    overflow, and the distinct numbers found by a one-dimensional unique."""
    if not len(rows) or bool((rows < 0).any()):
        return torch.unique(rows, dim=0, return_inverse=True)
    numbers, size = torch.zeros(len(rows), dtype=torch.int64, device=rows.device), 1
    for column in rows.T:
        span = int(column.max()) + 1
        if size * span >= 1 << 62:
            distinct, numbers = torch.unique(numbers, return_inverse=True)
            size = len(distinct)
        numbers, size = numbers * span + column, size * span
    distinct, inverse = torch.unique(numbers, return_inverse=True)
    first = torch.empty(len(distinct), dtype=torch.int64, device=rows.device)
    first.scatter_(0, inverse, torch.arange(len(rows), device=rows.device))  # any row of each: they are equal
    return rows[first], inverse


def _token_keys(batch: Batch) -> tuple[list[tuple], torch.Tensor]:
    """Where each token-aligned integer input of the batch sits (feature, key, trailing shape, dtype),
    and those inputs of every real token side by side [tokens, columns]."""
    aligned = [
        (name, key, value)
        for name, tensors in batch.inputs.items()
        for key, value in tensors.items()
        if isinstance(value, torch.Tensor) and value.shape[:2] == batch.mask.shape and not value.is_floating_point()
    ]
    layout = [(name, key, tuple(value.shape[2:]), value.dtype) for name, key, value in aligned]
    columns = [value.reshape(*batch.mask.shape, -1).long() for _, _, value in aligned]
    return layout, torch.cat(columns, dim=2)[batch.mask]


def _tag_batch(tag_names, confidence: bool, model: NERModel, batch: Batch, emissions: torch.Tensor):
    lengths = batch.lengths.cpu().numpy()
    best = model.classifier.decode(emissions, batch.mask)
    spans_of = spans_from_tag_ids(best.cpu().numpy(), lengths, tag_names)
    if not confidence:
        return spans_of
    scores = model.classifier.path_log_probabilities(emissions, batch.mask, best)
    where = np.array(
        [(row, start, end) for row, spans in enumerate(spans_of) for start, end, _ in spans], dtype=np.int64
    ).reshape(-1, 3)
    probabilities = iter(scores.span_probabilities(*where.T).tolist())
    return [[(*span, next(probabilities)) for span in spans] for spans in spans_of]
