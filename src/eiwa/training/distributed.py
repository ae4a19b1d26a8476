"""Data-parallel training of one model over several processes (torch.distributed: gloo on the
CPU, NCCL on GPUs): `eiwa train ... --nproc N` on one machine, or `eiwa train ...` started by
`torchrun` (one machine or several).

Every process reads the whole training set and builds the same vocabulary and the same initial
weights (the same seed). Each update, the global batch of ``batch_size`` sentences (the one a
single process would take) is split between the processes, sentence i of it to process
i % N; each computes the loss of its share, the gradients are averaged with one all-reduce
(weighted by share size, so that the update is that of the global batch's mean loss), and every
process takes the same optimizer step, so the weights stay identical without being sent. Dev
scoring, logging and every file write happen on rank 0 alone; the others wait for its dev F1.
What differs from one process: dropout draws (each rank has its own stream), and rounding in the
summed gradients, so results match a single-process run within noise, not bit for bit.

Stopping (`--nproc`): SIGTERM or SIGINT to the launching process is passed on to every rank; a rank
so told keeps going to its next update, where the ranks' stop requests travel with the batch sizes
they already sum, so all of them stop at the same update (`Stopped`) and none is left waiting.
The checkpoint of the last finished epoch is then what `--resume` continues from. A rank that
dies ends the others, and the ranks die with the launching process (a parent-death signal);
they hold its output lock as their own, so the lock lasts as long as the last of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from eiwa.errors import EiwaError
from eiwa.net import free_port
from eiwa.persist.atomic import held_locks, signals_deferred

STOPPED = 143  # a rank's exit status after it stopped on request, at the same update as the others
GRACE_SECONDS = 3.0  # after one rank's death, how long the others may take to end on their own
_stop_signal: int | None = None  # set in a rank by SIGTERM or SIGINT


class Stopped(Exception):
    """Raised in every rank at the same update once any rank was asked to stop."""


@dataclass(frozen=True)
class Group:
    """This process's place in a training group."""

    rank: int
    world: int

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Sum every gradient over the processes in one all-reduce (a flat buffer), then divide by
        the number of processes; a parameter without a gradient counts as zeros."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for parameter, grad in zip(parameters, grads):
            size = grad.numel()
            parameter.grad = flat[offset : offset + size].view_as(grad).clone()
            offset += size

    def whole_batch(self, share: int) -> float:
        """The global batch's size, from this process's `share` of it. The processes' stop requests
        are summed with it, so that if any was asked to stop, all raise `Stopped` here together."""
        whole, stops = self.sum(share, float(_stop_signal is not None))
        if stops:
            raise Stopped()
        return whole

    def sum(self, *values: float) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=_device_of_backend())
        dist.all_reduce(tensor)
        return tensor.tolist()

    def from_leader(self, value: float) -> float:
        tensor = torch.tensor([value], dtype=torch.float64, device=_device_of_backend())
        dist.broadcast(tensor, 0)
        return float(tensor.item())


def _device_of_backend() -> str:
    return "cuda" if dist.get_backend() == "nccl" else "cpu"


def current() -> Group | None:
    """The group this process trains in, or None when it trains alone."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return Group(dist.get_rank(), dist.get_world_size())
    return None


def _worker(
    rank: int, world: int, port: int, device: str, function: Callable, args: tuple, kwargs: dict, parent: int, *locks
) -> None:
    """One rank. `locks`: the launcher's lock files, open here too (`_Inherited`), held until this exits."""
    for number in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(number) is not signal.SIG_IGN:  # ignored by the launcher's own starter: stays so
            signal.signal(number, _stop_at_next_update)
    _die_with(parent)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: the processes are on this machine
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        function(*args, **{**kwargs, "device": f"cuda:{rank}" if backend == "nccl" else device})
    except Stopped:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(STOPPED)
    _leave()
    # Skip the interpreter's teardown: in CI a finished rank still aborted there now and then
    # (SIGABRT, "terminate called without an active exception": a native thread destroyed while
    # joinable), failing a run whose model was already written. Its work is done and flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _stop_at_next_update(number: int, _frame) -> None:
    global _stop_signal
    _stop_signal = number


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its launcher dies (Linux: PR_SET_PDEATHSIG), so that no
    rank trains on as an orphan; a launcher already gone ends it at once."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _leave() -> None:
    """Leave the group together (a barrier, then destroy), so that no rank tears down its
    connections while rank 0 is still saving. After an error there is no leaving together: the
    launcher stops the other processes."""
    dist.barrier()
    dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    """Whether this process is one of a group that torchrun (or another launcher setting RANK,
    WORLD_SIZE, MASTER_ADDR and MASTER_PORT) started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ and "MASTER_ADDR" in os.environ


def leads_torchrun() -> bool:
    """Whether this launched process is rank 0, the one that speaks and writes."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def joined(device: str) -> Iterator[tuple[Group, str]]:
    """Join the launcher's group for the block: (the group, this process's device: on CUDA, GPU
    LOCAL_RANK). If any process fails, torchrun stops the others."""
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend, init_method="env://")
    local = f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if backend == "nccl" else device
    yield Group(dist.get_rank(), dist.get_world_size()), local
    _leave()


def run(nproc: int, function: Callable, *args, device: str = "cpu", **kwargs) -> None:
    """Call `function(*args, **kwargs, device=...)` in `nproc` new processes forming one group on
    this machine (spawned: a fork of a process that has used torch's thread pools can hang); on
    CUDA, process r uses GPU r. An error in any process is raised here, and ends the others.

    A KeyboardInterrupt here (Ctrl-C; the CLI turns SIGTERM into one) asks every process to stop at
    its next update (`Stopped`) and is raised again once they have; a second one kills them. This
    returns or raises only when every process has ended."""
    import torch.multiprocessing as mp

    context = None
    try:
        with signals_deferred():  # a signal while starting them waits until every one can be told
            context = mp.start_processes(
                _worker,
                args=(nproc, free_port(), device, function, args, kwargs, os.getpid(), *map(_Inherited, held_locks())),
                nprocs=nproc,
                join=False,
                start_method="spawn",
            )
        stopped = _wait(context.processes, context.error_files)
    except KeyboardInterrupt:
        if context is None or _stop_all(context.processes):
            raise
        return  # they had finished before the request reached them: the model is whole
    except BaseException:
        if context is not None:
            _kill(context.processes)
        raise
    if stopped:
        raise EiwaError("a signal to one of the training processes stopped them all; continue with --resume")


def _stop_all(processes) -> bool:
    """Tell every process to stop at its next update and wait until they have (a second interrupt:
    kill them); whether they had all finished instead. However they end, they are gone after this."""
    for process in processes:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    try:
        _wait(processes, None, stopping=True)
    finally:
        _kill(processes)
    return any(process.exitcode != 0 for process in processes)


def _wait(processes, error_files, stopping: bool = False) -> bool:
    """Wait until every process has ended; whether they stopped on request. A process that failed
    ends the others (after `GRACE_SECONDS` to end on their own) and is raised as an EiwaError,
    unless `stopping`, when any end will do."""
    waiting = {process.sentinel: rank for rank, process in enumerate(processes)}
    stopped = False
    while waiting:
        for sentinel in multiprocessing.connection.wait(list(waiting)):
            rank = waiting.pop(sentinel)
            processes[rank].join()
            code = processes[rank].exitcode
            stopped = stopped or code == STOPPED
            if code not in (0, STOPPED) and not stopping:
                _kill(processes, GRACE_SECONDS)
                raise _failure(rank, len(processes), code, error_files[rank] if error_files else None)
    return stopped


def _kill(processes, grace: float = 0.0) -> None:
    """End every process still running, after waiting up to `grace` seconds for them to end."""
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
        process.join()


def _failure(rank: int, world: int, code: int, error_file: str | None) -> EiwaError:
    """The error a failed process gave (its last line: an EiwaError's own message), or how it died."""
    what = f"training process {rank} of {world}"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        return EiwaError(
            f"{what} was killed ({name}); the others were ended; --resume continues from the last checkpoint"
        )
    last = _last_line(error_file)
    if last.startswith("eiwa.errors."):
        return EiwaError(last.split(": ", 1)[-1])
    return EiwaError(f"{what} failed (exit status {code}){': ' + last if last else ''}; the others were ended")


def _last_line(error_file: str | None) -> str:
    """The last line of the traceback torch's launcher saved for a failed process ('' if none). torch
    writes it pickled (a str) to a temporary file of its own; eiwa's files hold no pickles."""
    import pickle

    try:
        with open(error_file, "rb") as handle:
            text = pickle.load(handle)
    except (OSError, TypeError, EOFError, pickle.UnpicklingError):
        return ""
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else ""


class _Inherited:
    """An open file descriptor that a spawned process receives as its own, open on the same file:
    a lock held on it stays held while either process lives. Spawning passes the descriptor over."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        from multiprocessing.reduction import DupFd

        return _received, (DupFd(self.fd),)


def _received(duplicate) -> int:
    return duplicate.detach()


__all__ = ["Group", "Stopped", "current", "joined", "launched_by_torchrun", "run"]
