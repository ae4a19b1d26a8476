"""An order-preserving, streamed map of a task over shards: in this process, in worker processes, or
as Ray tasks; what `eiwa predict --workers N` and `--ray` tag whole files with.

    for result in map_shards(tag_shard, chunks, workers=2, context=("ja-wiki", "cpu")):
        write(result)

`task(context, shard)` is a module-level function; `context` a small picklable value from which each
worker builds what it needs once (a loaded model, cached by the task per process). Results come in
the order of the shards, with a bounded number of shards in flight, so memory stays flat however
long the input. A worker process that dies (killed, out of memory) loses nothing: in a process pool
the pool is started again and the shards it held are tagged again, up to `RESTARTS` times, then a
one-line EiwaError; Ray runs a task again up to `RAY_RETRIES` times, then the same.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator

from eiwa.errors import EiwaError

RAY_HINT = "pip install 'eiwa[ray]'"
RESTARTS = 3  # a process pool is started again this many times at most, after a worker died
RAY_RETRIES = 3  # Ray runs a shard again this many times at most, after its worker died
AHEAD = 2  # shards in flight for each worker: the next one is ready when a worker finishes

Task = Callable[[object, list], object]


def map_shards(
    task: Task,
    shards: Iterable[list],
    workers: int = 1,
    ray_address: str | None = None,
    context: object = None,
    gpus_per_shard: float = 0,
) -> Iterator:
    """`task(context, shard)` for each shard, the results in the order of the shards, as they come.

    workers=1 and no `ray_address`: here, one after another. workers > 1: a pool of that many
    processes (from a fork server, one torch thread each). `ray_address`: Ray tasks of one CPU each (and
    `gpus_per_shard` GPUs); "local" starts Ray on this machine, "auto" joins this machine's
    cluster, anything else is a cluster's HOST:PORT."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if ray_address is not None:
        return _on_ray(task, iter(shards), context, ray_address, gpus_per_shard)
    if workers == 1:
        return (task(context, shard) for shard in shards)
    return _in_processes(task, iter(shards), context, workers)


# ----------------------------------------------------------------------------- a pool of processes


def _in_processes(task: Task, shards: Iterator[list], context: object, workers: int) -> Iterator:
    """Shards to a pool of `workers` processes, at most AHEAD per worker in flight; when the pool
    breaks (a worker died), a new one tags again every shard whose result had not come."""
    from concurrent.futures.process import BrokenProcessPool

    pending: collections.deque = collections.deque()  # [index, shard, future], oldest first
    indices = itertools.count()
    restarts = 0
    pool = _pool(task, workers)
    try:
        while True:
            while len(pending) < AHEAD * workers and (shard := next(shards, None)) is not None:
                pending.append([next(indices), shard, pool.submit(task, context, shard)])
            if not pending:
                return
            index, shard, future = pending[0]
            try:
                result = future.result()
            except BrokenProcessPool:
                restarts += 1
                if restarts > RESTARTS:
                    raise EiwaError(
                        f"shard {index + 1}: a worker process died {restarts} times (killed, out of memory?)"
                    ) from None
                pool.shutdown(wait=True, cancel_futures=True)
                pool = _pool(task, workers)
                for entry in pending:  # those that finished before the pool broke keep their result
                    if _lost(entry[2], BrokenProcessPool):
                        entry[2] = pool.submit(task, context, entry[1])
                continue
            pending.popleft()
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _lost(future, broken: type) -> bool:
    return future.cancelled() or isinstance(future.exception(), broken)


def _pool(task: Task, workers: int):
    import concurrent.futures
    import multiprocessing

    # Not fork: a forked copy of a process that has used torch's thread pools can hang. A fork
    # server (a clean process that has imported torch and the task's module, and nothing more)
    # starts workers in a moment, a fresh pool after a death too; spawn where there is none.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("spawn")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["torch", getattr(task, "func", task).__module__])
    return concurrent.futures.ProcessPoolExecutor(workers, context, initializer=one_torch_thread)


def one_torch_thread() -> None:
    """Workers share the cores: one intra-op thread each, so that they do not oversubscribe them."""
    import torch

    torch.set_num_threads(1)


# ----------------------------------------------------------------------------- Ray


def _on_ray(task: Task, shards: Iterator[list], context: object, address: str, gpus: float) -> Iterator:
    """Shards as Ray tasks of one CPU, twice as many in flight as the cluster has CPUs; results
    taken in order. Ray runs the task of a worker that died again; a task's own error is raised."""
    ray = import_ray()
    # Ray prints a worker's death on standard output, where the results may be going: stderr instead.
    with contextlib.redirect_stdout(sys.stderr):
        yield from _ray_results(ray, task, shards, context, address, gpus)


def _ray_results(ray, task: Task, shards: Iterator[list], context: object, address: str, gpus: float) -> Iterator:
    started = not ray.is_initialized()
    if started:
        start_ray(ray, address)
    try:
        remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=RAY_RETRIES, retry_exceptions=False)(_ray_shard)
        task_ref, context_ref = ray.put(task), ray.put(context)
        ahead = AHEAD * max(1, int(ray.cluster_resources().get("CPU", 1)))
        pending: collections.deque = collections.deque()
        indices = itertools.count()
        while True:
            while len(pending) < ahead and (shard := next(shards, None)) is not None:
                pending.append((next(indices), remote.remote(task_ref, context_ref, shard)))
            if not pending:
                return
            index, ref = pending.popleft()
            yield _ray_result(ray, index, ref)
    finally:
        if started:
            ray.shutdown()


def _ray_result(ray, index: int, ref):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:  # the task's own error, as it was raised
        raise error.as_instanceof_cause() from None
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError):
        raise EiwaError(
            f"shard {index + 1}: its Ray worker died {RAY_RETRIES + 1} times (killed, out of memory?)"
        ) from None


def _ray_shard(task: Task, context: object, shard: list):
    """A Ray task: one shard, with one torch thread (the task asked Ray for one CPU)."""
    one_torch_thread()
    return task(context, shard)


def import_ray():
    """The ray module, or a one-line EiwaError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise EiwaError(f"--ray needs Ray: {RAY_HINT}") from None
    return ray


def start_ray(ray, address: str) -> None:
    """Connect this process to Ray: "local" starts an instance here, "auto" joins this machine's
    cluster, anything else is HOST:PORT (checked first: Ray itself would keep retrying for minutes)."""
    if address not in ("local", "auto"):
        check_reachable(address)
    try:
        ray.init(
            address=None if address == "local" else address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise EiwaError(f"--ray {address}: cannot reach a Ray cluster ({error})") from None


def check_reachable(address: str) -> None:
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EiwaError(f"--ray {address}: give HOST:PORT (or auto, or no value for a local instance)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise EiwaError(f"--ray {address}: no Ray cluster answers there ({error.strerror or error})") from None
