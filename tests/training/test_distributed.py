"""`eiwa train --nproc 2`: two processes on the CPU over loopback (gloo) train one model, whose
dev F1 is within noise of one process's with the same global batch, and a run killed midway
resumes, with --nproc 2 again, to exactly the weights of an uninterrupted two-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import TINY_SET, synthetic_tagged, write_conll

from eiwa.tagger import Tagger
from eiwa.training.checkpoint import CHECKPOINT

EIWA = [sys.executable, "-m", "eiwa"]


def _train(data: Path, dev: Path, out: Path, *extra: str, env=None, quiet=False) -> subprocess.CompletedProcess:
    command = [
        *EIWA,
        "train",
        "--train",
        str(data),
        "--dev",
        str(dev),
        "--out",
        str(out),
        *(["--quiet"] if quiet else []),
        *TINY_SET,
        "--set",
        "threads=1",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    return (
        write_conll(root / "train.conll", synthetic_tagged(240, seed=21)),
        write_conll(root / "dev.conll", synthetic_tagged(40, seed=22)),
    )


def _dev_f1(out: Path) -> float:
    return json.loads((out / "meta.json").read_text(encoding="utf-8"))["training"]["best_dev_f1"]


def test_two_processes_train_a_model_as_good_as_one(data, tmp_path):
    train, dev = data
    one = _train(train, dev, tmp_path / "one", "--set", "max_epochs=8", "--set", "patience=8")
    two = _train(train, dev, tmp_path / "two", "--set", "max_epochs=8", "--set", "patience=8", "--nproc", "2")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert "(2 processes)" in two.stderr or "2 processes" in two.stdout + two.stderr
    assert two.stderr.count("epoch   1 ") == 1  # rank 0 alone logs
    f1_one, f1_two = _dev_f1(tmp_path / "one"), _dev_f1(tmp_path / "two")
    assert f1_one > 0.5 and abs(f1_two - f1_one) < 0.1, (f1_one, f1_two)
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith(".")) == [
        "config.json",
        "meta.json",
        "model.safetensors",
        "vocab.json",
    ]


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_weights(data, tmp_path):
    train, dev = data
    settings = ("--set", "max_epochs=4", "--set", "patience=4", "--nproc", "2")
    points = tmp_path / "points.log"
    reference = _train(train, dev, tmp_path / "reference", *settings, env={"EIWA_FAULT_LOG": str(points)})
    assert reference.returncode == 0, reference.stderr
    names = [line.split(" ", 1)[1] for line in points.read_text(encoding="utf-8").splitlines()]
    # Killed while writing the second epoch's checkpoint (rank 0 alone reaches fault points).
    k = [i for i, name in enumerate(names, start=1) if name == "write checkpoint"][1]
    killed = _train(train, dev, tmp_path / "run", *settings, env={"EIWA_FAULT_AT": str(k)})
    assert killed.returncode != 0 and (tmp_path / "run" / CHECKPOINT).exists(), killed.stderr
    resumed = _train(train, dev, tmp_path / "run", "--resume", *settings)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1" in resumed.stderr
    a, b = Tagger.load(tmp_path / "run").model.state_dict(), Tagger.load(tmp_path / "reference").model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_under_torchrun_training_equals_nproc(data, tmp_path):
    """`torchrun --nproc-per-node 2 -m eiwa train ...` (every process runs the command, rank 0
    alone writes) trains exactly the weights of `eiwa train --nproc 2`."""
    train, dev = data
    settings = ("--set", "max_epochs=3", "--set", "patience=3")
    spawned = _train(train, dev, tmp_path / "spawned", *settings, "--nproc", "2", quiet=True)
    assert spawned.returncode == 0, spawned.stderr
    # --quiet reaches the spawned processes: the result line alone, and the max_epochs warning
    assert spawned.stdout.startswith("best dev F1 ") and len(spawned.stdout.splitlines()) == 1
    assert "epoch   1 " not in spawned.stderr and "warning: training stopped at max_epochs 3" in spawned.stderr
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "eiwa",
        "train",
        "--train",
        str(train),
        "--dev",
        str(dev),
        "--out",
        str(tmp_path / "torchrun"),
        *TINY_SET,
        "--set",
        "threads=1",
        *settings,
    ]
    launched = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr
    assert launched.stderr.count("epoch   1 ") == 1  # rank 0 alone logs
    a, b = Tagger.load(tmp_path / "torchrun").model.state_dict(), Tagger.load(tmp_path / "spawned").model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    # The launcher's variables with --nproc as well: refused before any process group is formed.
    launcher = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
    refused = _train(train, dev, tmp_path / "refused", "--nproc", "2", env=launcher)
    assert refused.returncode != 0 and "under torchrun, leave out --nproc" in refused.stderr
