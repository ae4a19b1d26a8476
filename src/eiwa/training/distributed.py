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
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from eiwa.net import free_port


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


def _worker(rank: int, world: int, port: int, device: str, function: Callable, args: tuple, kwargs: dict) -> None:
    backend = "nccl" if device.startswith("cuda") else "gloo"
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback: the processes are on this machine
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    function(*args, **{**kwargs, "device": f"cuda:{rank}" if backend == "nccl" else device})
    _leave()
    # Skip the interpreter's teardown: in CI a finished rank still aborted there now and then
    # (SIGABRT, "terminate called without an active exception": a native thread destroyed while
    # joinable), failing a run whose model was already written. Its work is done and flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


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
    CUDA, process r uses GPU r. An error in any process is raised here."""
    import torch.multiprocessing as mp

    mp.start_processes(
        _worker,
        args=(nproc, free_port(), device, function, args, kwargs),
        nprocs=nproc,
        join=True,
        start_method="spawn",
    )


__all__ = ["Group", "current", "joined", "launched_by_torchrun", "run"]
