"""`eiwa train --nproc 2` ended by a signal: SIGTERM and SIGINT stop every rank at the same update and
keep the last checkpoint for --resume; SIGKILL of the launching process or of one rank ends every rank,
and the output lock stays held until the last of them has ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import TINY_SET, synthetic_tagged, write_conll

from eiwa.persist.atomic import is_locked, lock
from eiwa.tagger import Tagger
from eiwa.training.checkpoint import CHECKPOINT, read_checkpoint

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; the ranks' parent-death signal is Linux's"
)


EPOCHS = 4  # a resumed run keeps the checkpoint's max_epochs: few, so that it ends soon


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    return (
        write_conll(root / "train.conll", synthetic_tagged(80, seed=21)),
        write_conll(root / "dev.conll", synthetic_tagged(16, seed=22)),
    )


def _command(data, out: Path, epochs: int, *extra: str) -> list[str]:
    train, dev = data
    return [
        *(sys.executable, "-m", "eiwa", "train", "--train", str(train), "--dev", str(dev), "--out", str(out)),
        *TINY_SET,
        *("--set", "threads=1", "--set", f"max_epochs={epochs}", "--set", f"patience={epochs}", "--nproc", "2"),
        *extra,
    ]


def _started_with_a_checkpoint(data, out: Path, epochs: int = 10_000) -> tuple[subprocess.Popen, list[int]]:
    """A run of `epochs` (by default: for long), once it has written its first checkpoint; its ranks' ids."""
    process = subprocess.Popen(
        _command(data, out, epochs), stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint
    )
    deadline = time.monotonic() + 120
    while not (out / CHECKPOINT).exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    return process, _ranks_of(process.pid)


def _default_sigint() -> None:
    """Ctrl-C's SIGINT acts in the run even where the tests run in the background (which ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ranks_of(pid: int) -> list[int]:
    """The ids of the launcher's ranks, in the order they were started (not its resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ranks = sorted(int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes())
    assert len(ranks) == 2, children
    return ranks


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _left_whole(out: Path) -> int:
    """The epoch of the checkpoint left behind; the model beside it loads, and no temporary file is left."""
    Tagger.load(out)
    assert not [p.name for p in [*out.iterdir(), *out.parent.iterdir()] if p.name.endswith((".tmp", ".new"))]
    return read_checkpoint(out / CHECKPOINT)[2]["epoch"]


@pytest.mark.parametrize(
    ("number", "status", "said"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_stop_signal_stops_every_rank_with_a_checkpoint_that_resume_continues(data, tmp_path, number, status, said):
    out = tmp_path / "m"
    process, ranks = _started_with_a_checkpoint(data, out, EPOCHS)  # the signal comes epochs before its end
    process.send_signal(number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status and said in stderr.splitlines()[-1] and "Traceback" not in stderr, stderr
    assert not any(_alive(pid) for pid in ranks)  # the launcher ends after its ranks, never before
    assert not (tmp_path / ".m.lock").exists()
    epoch = _left_whole(out)
    if number == signal.SIGTERM:  # one resume suffices: both signals leave the same state
        resumed = subprocess.run(_command(data, out, EPOCHS, "--resume"), capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0 and f"resuming after epoch {epoch} " in resumed.stderr, resumed.stderr
        assert not (out / CHECKPOINT).exists()


def test_the_death_of_the_launcher_ends_every_rank_and_the_lock_lasts_until_then(data, tmp_path):
    out = tmp_path / "m"
    process, ranks = _started_with_a_checkpoint(data, out)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in ranks):
        # an immediate --resume is refused for as long as a rank runs
        assert is_locked(out) or not any(_alive(pid) for pid in ranks)
        assert time.monotonic() < deadline, "the ranks outlived their launcher"
        time.sleep(0.01)
    while is_locked(out):  # released as each rank's last thread exits, just after it stops running
        assert time.monotonic() < deadline, "the lock outlived the ranks"
        time.sleep(0.01)
    with lock(out):  # a new run may now write
        pass
    _left_whole(out)


def test_the_death_of_one_rank_ends_the_others_in_one_line(data, tmp_path):
    out = tmp_path / "m"
    process, ranks = _started_with_a_checkpoint(data, out)
    os.kill(ranks[1], signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("eiwa: error: training process 1 of 2 was killed (SIGKILL)"), stderr
    assert not any(_alive(pid) for pid in ranks)
    assert not (tmp_path / ".m.lock").exists()
    _left_whole(out)
