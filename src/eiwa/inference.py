"""Tagging encoded sentences: batched decoding, entity confidences, and the shared pool of tagging threads.

On the CPU with more than one torch thread, the features' per-input work and the batches go to a shared
pool of that many threads, each running torch on one thread (a thread-local setting: the caller's and
the process's thread count are left alone): an LSTM of this size uses one core per batch better than
two on one, and many small operations on two OpenMP threads lose most of their time to waking them.
Where torch's thread count is process-wide (no OpenMP), batches run in the caller.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from eiwa.features.encoder import Batch, Encoded, Encoder
from eiwa.model import NERModel
from eiwa.tags import spans_from_tag_ids

_MIN_POOLED_BATCH = 16  # below this many sentences one batch on one thread is fastest
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
    device = next(model.parameters()).device
    threads = torch.get_num_threads()
    pool = tagging_pool(threads) if device.type == "cpu" else None
    if pool is not None and len(encoded) > _MIN_POOLED_BATCH:
        # Each thread gets two batches at least (100 texts: 25 a batch, 1.6x faster than 64).
        batch_size = min(batch_size, max(_MIN_POOLED_BATCH, -(-len(encoded) // (2 * threads))))
    run = pool.map if pool else map
    precomputed = encoder.precompute(model, encoded, lambda f, items: run(_in_inference_mode(f), items), device)
    tag = _in_inference_mode(functools.partial(_tag_batch, model, encoder.tags.items, precomputed, device, confidence))
    results: list[list[tuple]] = [[] for _ in range(len(encoded))]
    batches = encoder.batches(encoded, batch_size, inference=True)
    window_size = 4 * threads if pool else 1  # bounded memory; pool.map submits a window at once
    while window := list(itertools.islice(batches, window_size)):
        for batch, spans_of in run(tag, window):
            for index, spans in zip(batch.indices, spans_of):
                results[index] = spans
    return results


def _tag_batch(model: NERModel, tag_names, precomputed: dict, device, confidence: bool, batch: Batch):
    lengths = batch.lengths.numpy()
    batch = batch.to(device).with_inputs(precomputed)
    if not confidence:
        return batch, spans_from_tag_ids(model.decode(batch).cpu().numpy(), lengths, tag_names)
    best, scores = model.decode_with_scores(batch)
    spans_of = spans_from_tag_ids(best.cpu().numpy(), lengths, tag_names)
    where = np.array(
        [(row, start, end) for row, spans in enumerate(spans_of) for start, end, _ in spans], dtype=np.int64
    ).reshape(-1, 3)
    probabilities = iter(scores.span_probabilities(*where.T).tolist())
    return batch, [[(*span, next(probabilities)) for span in spans] for spans in spans_of]
