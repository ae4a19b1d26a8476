"""`eiwa experiment --ray`: a tiny study on a local two-node Ray cluster (started here, on
127.0.0.1) gives the records of a serial run, also when a worker process is killed mid-cell."""

import glob
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'eiwa[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402
from test_experiment import SHARED_GRID, records, write_data, write_spec  # noqa: E402

from eiwa.errors import EiwaError  # noqa: E402
from eiwa.study.runner import run_experiment  # noqa: E402
from eiwa.study.spec import load_experiment  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A head node and a second node joining it, one CPU each."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="module")
def serial(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("ray-serial")
    data = write_data(root / "data.conll")
    spec_path = write_spec(root / "tiny.toml", root / "out", data, tiny_model_dir, extra_grid=SHARED_GRID)
    run_experiment(load_experiment(spec_path), log=lambda _: None)
    return data, {r["key"]: r for r in records(root / "out")}


def _same_records(out, expected):
    got = {r["key"]: r for r in records(out)}
    assert got == expected and len(records(out)) == len(expected)  # one record per run: none twice


def test_a_study_on_two_ray_nodes_gives_the_serial_records(cluster, serial, tiny_model_dir, tmp_path):
    data, expected = serial
    spec = load_experiment(
        write_spec(tmp_path / "tiny.toml", tmp_path / "out", data, tiny_model_dir, extra_grid=SHARED_GRID)
    )
    log: list[str] = []
    run_experiment(spec, log=log.append, ray_address=cluster.address)
    assert "6 runs as Ray tasks (1 CPU each; the cluster has room for 2 at once)" in log
    assert log[-1].startswith("  cells: 6 done, 0 running, 0 waiting") or any("6 done" in line for line in log)
    _same_records(tmp_path / "out", expected)
    assert json.loads((tmp_path / "out" / "results.json").read_text())


def _kill_first_cell_worker(killed: list[tuple[int, str]], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker process seen running a cell (its title is ray::_ray_cell) once
    its log shows a finished fold: mid-cell, after some work and before the record. Appends
    (pid, the cell line it logged)."""
    while not stop.is_set():
        listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            pid, _, args = line.strip().partition(" ")
            if not args.startswith("ray::_ray_cell"):
                continue
            logs = glob.glob(f"/tmp/ray/session_latest/logs/worker-*-{pid}.out")
            logged = "".join(Path(f).read_text(errors="replace") for f in logs)
            folds = [row for row in logged.splitlines() if " fold 1/" in row]
            if folds:
                os.kill(int(pid), signal.SIGKILL)
                killed.append((int(pid), folds[-1].strip()))
                return
        time.sleep(0.01)


def test_a_worker_killed_mid_cell_is_retried_and_the_records_are_unchanged(cluster, serial, tiny_model_dir, tmp_path):
    data, expected = serial
    spec = load_experiment(
        write_spec(tmp_path / "tiny.toml", tmp_path / "out", data, tiny_model_dir, extra_grid=SHARED_GRID)
    )
    killed: list[tuple[int, str]] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_cell_worker, args=(killed, stop))
    killer.start()
    try:
        run_experiment(spec, log=lambda _: None, ray_address=cluster.address)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen running a cell"
    assert " fold 1/2: " in killed[0][1]  # killed after the cell's first fold, before its record
    _same_records(tmp_path / "out", expected)


def test_ray_needs_a_fixed_thread_count(serial, tiny_model_dir, tmp_path):
    data, _ = serial
    spec = load_experiment(write_spec(tmp_path / "tiny.toml", tmp_path / "out", data, tiny_model_dir))
    spec = spec.for_run(["threads=0"], spec.device)
    with pytest.raises(EiwaError, match="--ray needs a fixed torch thread count"):
        run_experiment(spec, log=lambda _: None, ray_address="local")


def test_an_address_where_no_cluster_answers_is_a_prompt_error(serial, tiny_model_dir, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data, _ = serial
    spec = load_experiment(write_spec(tmp_path / "tiny.toml", tmp_path / "out", data, tiny_model_dir))
    started = time.monotonic()
    with pytest.raises(EiwaError, match=f"--ray 127.0.0.1:{port}: no Ray cluster answers there"):
        run_experiment(spec, log=lambda _: None, ray_address=f"127.0.0.1:{port}")
    assert time.monotonic() - started < 30
    with pytest.raises(EiwaError, match="give HOST:PORT"):
        run_experiment(spec, log=lambda _: None, ray_address="nonsense")
