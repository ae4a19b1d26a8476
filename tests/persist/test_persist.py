"""Crash-safe persistence (eiwa.persist): whole-directory swaps, checksums, locks, leftovers, and a
training run SIGKILLed at every write and rename point of saving and checkpointing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from helpers import TINY_SET, synthetic_tagged, write_conll

from eiwa.errors import EiwaError, ModelError
from eiwa.persist.atomic import clean_leftovers, half_swapped, lock, replace_directory, write_json
from eiwa.persist.model_dir import is_model_directory
from eiwa.tagger import Tagger
from eiwa.training.checkpoint import CHECKPOINT, read_checkpoint

EIWA = [sys.executable, "-m", "eiwa"]


def fill_with(text):
    def fill(staging: Path):
        (staging / "meta.json").write_text('{"format": "eiwa-model"}', encoding="utf-8")
        (staging / "payload").write_text(text, encoding="utf-8")

    return fill


def test_replace_directory_swaps_in_the_new_whole(tmp_path):
    target = tmp_path / "m"
    replace_directory(target, fill_with("old"), is_model_directory)
    replace_directory(target, fill_with("new"), is_model_directory)
    assert (target / "payload").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # nothing left beside it


def test_a_failing_save_keeps_the_old_directory_and_leaves_nothing(tmp_path):
    target = tmp_path / "m"
    replace_directory(target, fill_with("old"), is_model_directory)

    def broken(staging):
        (staging / "payload").write_text("half", encoding="utf-8")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        replace_directory(target, broken, is_model_directory)
    assert (target / "payload").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_directory_of_other_files_is_never_replaced(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("years of work", encoding="utf-8")
    with pytest.raises(EiwaError, match="not an eiwa model"):
        replace_directory(tmp_path / "notes", fill_with("x"), is_model_directory)
    assert (tmp_path / "notes" / "thesis.tex").read_text(encoding="utf-8") == "years of work"


def test_leftovers_of_a_killed_save_are_removed_and_a_half_swap_is_undone(tmp_path):
    target = tmp_path / "m"
    (tmp_path / ".m.123.new").mkdir()
    (tmp_path / ".m.x.json.tmp").write_text("", encoding="utf-8")
    old = tmp_path / ".m.99.old"  # the fallback swap was killed between its two renames
    old.mkdir()
    (old / "meta.json").write_text('{"format": "eiwa-model"}', encoding="utf-8")
    clean_leftovers(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert (target / "meta.json").exists()


def test_a_second_writer_fails_at_once(tmp_path):
    with lock(tmp_path / "m"), pytest.raises(EiwaError, match="another eiwa process"), lock(tmp_path / "m"):
        pass
    with lock(tmp_path / "m"):  # released
        pass


def test_weights_damaged_in_place_are_an_error(tiny_model_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x10  # one bit of one weight: same size, still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="model.safetensors: damaged"):
        Tagger.load(copy)
    vocab = copy / "vocab.json"
    shutil.copy(tiny_model_dir / "model.safetensors", weights)
    vocab.write_text(vocab.read_text(encoding="utf-8").replace('"B-PER"', '"B-PRS"', 1), encoding="utf-8")
    with pytest.raises(ModelError, match="vocab.json: damaged"):
        Tagger.load(copy)


def test_saved_files_get_ordinary_permissions(tmp_path, tiny_model_dir):
    import stat

    umask = os.umask(0)
    os.umask(umask)
    write_json(tmp_path / "x.json", {"a": 1})
    Tagger.load(tiny_model_dir).save(tmp_path / "m")
    for path in (tmp_path / "x.json", tmp_path / "m" / "meta.json", tmp_path / "m" / "model.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == 0o777 & ~umask


# ----------------------------------------------------------------------------- fault injection


def _train(data: Path, dev: Path, out: Path, *extra: str, env=None) -> subprocess.CompletedProcess:
    command = [
        *EIWA,
        "train",
        "--train",
        str(data),
        "--dev",
        str(dev),
        "--out",
        str(out),
        "--quiet",
        *TINY_SET,
        "--set",
        "threads=1",
        "--set",
        "max_epochs=3",
        "--set",
        "patience=3",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


def _weights(directory: Path) -> dict:
    return Tagger.load(directory).model.state_dict()


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


FALLBACK_POINTS = {"swap", "fallback second rename"}


@pytest.mark.parametrize("swap", ["exchange", "fallback"])
def test_a_training_run_killed_at_every_write_and_rename_point_leaves_a_whole_model(tmp_path, swap):
    """Train over an existing model (--force), SIGKILLed at the k-th write/fsync/rename point for
    every k. Each time: the path loads as the old model or as one the new run saved, and
    --resume (or, before the first checkpoint, a fresh --force run) ends identical to an
    uninterrupted run. The dev set's one type is not in training, so dev F1 stays 0: epoch 1
    saves the model with its checkpoint (a directory swap), epochs 2 and 3 replace the
    checkpoint file alone, and the end swaps in the final model."""
    data = write_conll(tmp_path / "train.conll", synthetic_tagged(60, seed=3))
    dev = write_conll(
        tmp_path / "dev.conll",
        [(tokens, [t[:2] + "XYZ" if t != "O" else t for t in tags]) for tokens, tags in synthetic_tagged(10, seed=4)],
    )
    env = {"EIWA_SWAP_FALLBACK": "1"} if swap == "fallback" else {}
    old_dir, reference_dir = tmp_path / "old", tmp_path / "reference"
    assert _train(data, dev, old_dir, "--seed", "5").returncode == 0
    shutil.copytree(old_dir, reference_dir)
    points_log = tmp_path / "points.log"
    reference = _train(data, dev, reference_dir, "--force", env={**env, "EIWA_FAULT_LOG": str(points_log)})
    assert reference.returncode == 0, reference.stderr
    points = [line.split(" ", 1)[1] for line in points_log.read_text(encoding="utf-8").splitlines()]
    assert {"fill staging", "swap", "write checkpoint", "rename checkpoint.safetensors"} <= set(points)
    assert ("remove old" if swap == "exchange" else "fallback second rename") in points
    old, final = _weights(old_dir), _weights(reference_dir)

    def kill_at(k: int) -> str:
        out = tmp_path / f"killed-{k}"
        shutil.copytree(old_dir, out)
        killed = _train(data, dev, out, "--force", env={**env, "EIWA_FAULT_AT": str(k)})
        where = f"point {k} ({points[k - 1]})"
        assert killed.returncode == -signal.SIGKILL, (where, killed.stderr)
        try:
            state = _weights(out)  # it loads: the old model or a new one, never neither
        except ModelError as error:  # killed between the fallback's renames: a reader reports, renames nothing
            assert "interrupted save" in str(error), (where, str(error))
            state = _weights(half_swapped(out))
        outcome = "old" if _same(state, old) else "new"
        if ((half_swapped(out) or out) / CHECKPOINT).exists():
            read_checkpoint((half_swapped(out) or out) / CHECKPOINT)  # one consistent unit
            finished = _train(data, dev, out, "--resume", env=env)
        else:
            assert outcome == "old" or _same(state, final), where
            finished = _train(data, dev, out, "--force", env=env)
        assert finished.returncode == 0, (where, finished.stderr)
        assert _same(_weights(out), final), where
        assert sorted(p.name for p in out.iterdir()) == ["config.json", "meta.json", "model.safetensors", "vocab.json"]
        leftovers = [
            p.name for p in tmp_path.iterdir() if p.name.startswith(f".killed-{k}.") and not p.name.endswith(".lock")
        ]
        assert not leftovers, (where, leftovers)
        return outcome

    # The fallback differs from the exchange only in the swap itself: it is killed there alone.
    chosen = [k for k, name in enumerate(points, 1) if swap == "exchange" or name in FALLBACK_POINTS]
    with ThreadPoolExecutor(2) as pool:  # the runs are subprocesses: two at a time on two cores
        outcomes = list(pool.map(kill_at, chosen))
    assert "old" in outcomes and "new" in outcomes
