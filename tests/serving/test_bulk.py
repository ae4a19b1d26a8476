"""Tagging in worker processes and Ray tasks (serving/bulk.py, `eiwa predict --workers/--ray`): the
output of one process, byte for byte and in input order, also when a worker is killed mid-run."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import sys

import pytest
from helpers import assert_user_error, synthetic_tagged

from eiwa.cli import cli
from eiwa.errors import EiwaError
from eiwa.serving import bulk
from eiwa.serving import predict as serving_predict
from eiwa.serving.bulk import map_shards

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install 'eiwa[ray]')"
)


def _texts(count: int) -> list[str]:
    return [" ".join(words) for words, _ in synthetic_tagged(count, seed=5)]


def _write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    return path


def _predict(runner, model, *args) -> bytes:
    result = runner.invoke(cli, ["predict", str(model), *args])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def _die_once(marker: str) -> None:
    """SIGKILL this process, the first time any process gets here (the marker file says it happened)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _doubled_or_die(marker: str, context, shard: list) -> list:
    if "die" in shard:
        _die_once(marker)
    return [context * x for x in shard if x != "die"]


def _always_die(context, shard: list) -> list:
    os.kill(os.getpid(), signal.SIGKILL)


def _tag_or_die(marker: str, context, shard: list) -> list:
    _die_once(marker)
    return serving_predict._tag_shard(context, shard)


def test_workers_write_the_bytes_of_one_process_in_input_order(runner, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(serving_predict, "CHUNK", 4)  # 23 texts: 6 shards over 2 workers
    path = _write_jsonl(tmp_path / "in.jsonl", _texts(23))
    args = ["--input", str(path), "--input-format", "jsonl"]
    alone = _predict(runner, tiny_model_dir, *args)
    assert [json.loads(line)["id"] for line in alone.splitlines()] == list(range(23))
    assert _predict(runner, tiny_model_dir, *args, "--workers", "2") == alone
    texts = _texts(9)  # TEXT arguments, CoNLL (the writer needs each token's offsets)
    conll = _predict(runner, tiny_model_dir, *texts, "--output-format", "conll")
    assert _predict(runner, tiny_model_dir, *texts, "--output-format", "conll", "--workers", "3") == conll


def test_a_killed_worker_s_shard_is_done_again_once(tmp_path):
    shards = [[1, 2], [3, "die", 4], [5], [6, 7], [8]]
    task = functools.partial(_doubled_or_die, str(tmp_path / "died"))
    assert list(map_shards(task, iter(shards), workers=2, context=10)) == [[10, 20], [30, 40], [50], [60, 70], [80]]
    assert (tmp_path / "died").exists()  # it did die, once
    assert list(map_shards(task, [[1], [2]], context=3)) == [[3], [6]]  # workers=1: here, no pool


def test_a_worker_that_keeps_dying_is_a_one_line_error_and_no_output(runner, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "RESTARTS", 1)
    with pytest.raises(EiwaError, match=r"^shard 1: a worker process died 2 times \(killed, out of memory\?\)$"):
        list(map_shards(_always_die, [[1], [2]], workers=2))
    monkeypatch.setattr(serving_predict, "_tag_shard", _always_die)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "a text", "--workers", "2", "--output", str(out)])
    assert_user_error(result, "shard 1: a worker process died 2 times")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_workers_and_ray_options_are_checked(runner, tiny_model_dir, monkeypatch):
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "a text", "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output
    assert_user_error(
        runner.invoke(cli, ["predict", str(tiny_model_dir), "a", "--workers", "2", "--ray"]), "--ray and --workers"
    )
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    assert_user_error(
        runner.invoke(cli, ["predict", str(tiny_model_dir), "a", "--ray"]), "--ray needs Ray: pip install"
    )


# ----------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def cluster():
    """A head node and a second node joining it over loopback, one CPU each (ray.cluster_utils starts
    and stops exactly these processes; `ray stop` would end every Ray process of the machine)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@needs_ray
def test_ray_tasks_write_the_bytes_of_one_process_when_a_worker_is_killed(
    runner, cluster, tiny_model_dir, tmp_path, monkeypatch
):
    import ray.cloudpickle

    monkeypatch.setattr(serving_predict, "CHUNK", 3)  # 14 texts: 5 shards
    path = _write_jsonl(tmp_path / "in.jsonl", _texts(14))
    args = ["--input", str(path), "--input-format", "jsonl"]
    alone = _predict(runner, tiny_model_dir, *args)
    marker = tmp_path / "died"
    # The first task to run kills its own Ray worker; Ray runs it again (the marker is there then).
    monkeypatch.setattr(serving_predict, "_tag_shard", functools.partial(_tag_or_die, str(marker)))
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray's workers cannot import this file
    try:
        on_ray = _predict(runner, tiny_model_dir, *args, "--ray", cluster.address)
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert marker.exists()
    assert on_ray == alone, on_ray[:2000]
    assert [json.loads(line)["id"] for line in on_ray.splitlines()] == list(range(14))


@needs_ray
def test_an_address_where_no_ray_cluster_answers_is_a_prompt_error(runner, tiny_model_dir):
    import socket

    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "a text", "--ray", f"127.0.0.1:{port}"])
    assert_user_error(result, f"--ray 127.0.0.1:{port}: no Ray cluster answers there")
