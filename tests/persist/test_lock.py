"""The output lock (eiwa.persist.atomic.lock): `.<name>.lock` exists only while a writer holds it,
whatever way the writer ends, and a second writer is refused at once, also from another process."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TINY_SET, synthetic_tagged, tiny_config, write_conll

from eiwa.cli import cli
from eiwa.errors import EiwaError
from eiwa.persist.atomic import _take_lock, lock
from eiwa.training.run import Data, Output, train_files

SRC = str(Path(__file__).resolve().parents[2] / "src")


def lock_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".lock"))


def hold_in_another_process(target: Path, then: str) -> subprocess.Popen:
    """A Python process that takes the lock on `target`, says so on stdout, then runs `then`."""
    code = (
        "import os, signal, sys\n"
        "from eiwa.persist.atomic import lock\n"
        f"with lock({str(target)!r}):\n"
        "    print('held', flush=True)\n"
        f"    {then}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_the_lock_file_is_there_only_while_held(tmp_path):
    with lock(tmp_path / "m"):
        assert lock_files(tmp_path) == [".m.lock"]
        assert (tmp_path / ".m.lock").read_text(encoding="utf-8") == f"pid {os.getpid()}"
    assert lock_files(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_the_lock_file_goes_after_an_error_or_an_interruption(tmp_path, error):
    with pytest.raises(error), lock(tmp_path / "m"):
        raise error()
    assert lock_files(tmp_path) == []


def test_a_second_writer_in_another_process_is_refused_and_named(tmp_path):
    holder = hold_in_another_process(tmp_path / "m", "sys.stdin.read()")
    try:
        with pytest.raises(EiwaError, match=f"another eiwa process \\(pid {holder.pid}\\) is writing it"):
            with lock(tmp_path / "m"):
                pass
        assert lock_files(tmp_path) == [".m.lock"]  # the refused writer took nothing away from the holder
    finally:
        holder.communicate("")
    assert holder.returncode == 0 and lock_files(tmp_path) == []
    with lock(tmp_path / "m"):
        pass


def test_a_killed_writers_lock_file_blocks_no_one_and_is_removed_by_the_next(tmp_path):
    killed = hold_in_another_process(tmp_path / "m", "os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.wait() == -signal.SIGKILL
    assert lock_files(tmp_path) == [".m.lock"]  # SIGKILL runs no clean-up
    with lock(tmp_path / "m"):
        pass
    assert lock_files(tmp_path) == []


def test_a_writer_whose_file_was_removed_before_it_locked_takes_a_new_one(tmp_path):
    """The race of removing a lock file: a writer opens it, its holder finishes (removes it and
    unlocks), then the writer's flock succeeds on a file no longer there; it must not count."""
    path = tmp_path / ".m.lock"
    calls = []

    class RemovedBeforeFirstLock:
        LOCK_EX, LOCK_NB = fcntl.LOCK_EX, fcntl.LOCK_NB

        @staticmethod
        def flock(handle, flags):
            if not calls:
                path.unlink()  # the holder finishing between this writer's open and its flock
            calls.append(flags)
            fcntl.flock(handle, flags)

    handle = _take_lock(tmp_path / "m", path, RemovedBeforeFirstLock)
    try:
        assert len(calls) == 2
        assert os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    finally:
        handle.close()


# ----------------------------------------------------------------------------- training runs


def conll_file(tmp_path: Path) -> Path:
    return write_conll(tmp_path / "train.conll", synthetic_tagged(40, seed=3))


def test_training_leaves_no_lock_after_success_a_parse_error_or_an_interruption(runner, tmp_path):
    good = conll_file(tmp_path)
    done = runner.invoke(cli, ["train", "--train", str(good), "--out", str(tmp_path / "ok"), "--quiet", *TINY_SET])
    assert done.exit_code == 0, done.output

    bad = tmp_path / "bad.conll"
    bad.write_text("John B-PER\nlives O extra\n", encoding="utf-8")
    failed = runner.invoke(cli, ["train", "--train", str(bad), "--out", str(tmp_path / "failed"), "--quiet"])
    assert failed.exit_code == 2 and "bad.conll:2" in failed.stderr

    def interrupt(line: str) -> None:
        if line.startswith("epoch"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_files(tiny_config(), Data(good), Output(tmp_path / "interrupted"), progress=False, log=interrupt)
    assert lock_files(tmp_path) == []


def test_a_second_training_run_into_the_same_directory_is_refused(runner, tmp_path):
    holder = hold_in_another_process(tmp_path / "out", "sys.stdin.read()")
    try:
        result = runner.invoke(
            cli, ["train", "--train", str(conll_file(tmp_path)), "--out", str(tmp_path / "out"), *TINY_SET]
        )
    finally:
        holder.communicate("")
    assert result.exit_code == 2 and "another eiwa process" in result.stderr
    assert not (tmp_path / "out").exists() and lock_files(tmp_path) == []
