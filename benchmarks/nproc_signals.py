"""What `eiwa train --nproc 2` leaves on disk when a signal ends it, and what `--resume` makes of it.

    PYTHONPATH=src .venv/bin/python benchmarks/nproc_signals.py [--epochs 5] [--after-epoch 2]

Trains an uninterrupted reference run (synthetic English data, the tests' tiny settings, one torch
thread per rank), then for each case starts the same run, waits for the checkpoint of epoch
`--after-epoch`, sends the signal (to the launching process, or SIGKILL to rank 1), and records:
the exit status and last stderr line, how long until every rank was gone, whether the lock was
held meanwhile, what is left in the output directory, then what `--resume` said and whether its
final weights equal the reference's. Prints a Markdown table (docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import TINY_SET, synthetic_tagged, write_conll  # noqa: E402

from eiwa.errors import EiwaError  # noqa: E402
from eiwa.persist.atomic import is_locked  # noqa: E402
from eiwa.tagger import Tagger  # noqa: E402
from eiwa.training.checkpoint import CHECKPOINT, read_checkpoint  # noqa: E402

CASES = {
    "SIGTERM to eiwa": ("parent", signal.SIGTERM),
    "SIGINT to eiwa": ("parent", signal.SIGINT),
    "SIGKILL to eiwa": ("parent", signal.SIGKILL),
    "SIGKILL to rank 1": ("rank", signal.SIGKILL),
}


def command(data: tuple[Path, Path], out: Path, epochs: int, *extra: str) -> list[str]:
    train, dev = data
    return [
        *(sys.executable, "-m", "eiwa", "train", "--train", str(train), "--dev", str(dev), "--out", str(out)),
        *TINY_SET,
        *("--set", "threads=1", "--set", f"max_epochs={epochs}", "--set", f"patience={epochs}", "--nproc", "2"),
        *extra,
    ]


def ranks_of(pid: int) -> list[int]:
    """The launcher's ranks (not its resource tracker), in the order they were started."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sorted(int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes())


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def checkpoint_epoch(out: Path) -> int | None:
    try:
        return read_checkpoint(out / CHECKPOINT)[2]["epoch"]
    except (EiwaError, FileNotFoundError, OSError):
        return None


def interrupt(data, out: Path, epochs: int, after: int, target: str, number: int) -> dict:
    restore = (lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if number == signal.SIGINT else None
    process = subprocess.Popen(command(data, out, epochs), stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    while (checkpoint_epoch(out) or 0) < after and process.poll() is None:
        time.sleep(0.05)
    ranks = ranks_of(process.pid)
    os.kill(ranks[1] if target == "rank" else process.pid, number)
    killed = time.monotonic()
    held_while_ranks_ran = True
    while any(alive(pid) for pid in ranks):
        held_while_ranks_ran &= is_locked(out) or not any(alive(pid) for pid in ranks)
        time.sleep(0.01)
    gone_after = time.monotonic() - killed
    _, stderr = process.communicate(timeout=120)
    lines = stderr.strip().splitlines()
    return {
        "exit": process.returncode,
        "said": lines[-1] if lines else "",
        "ranks_gone_s": round(gone_after, 2),
        "lock_held_while_ranks_ran": held_while_ranks_ran,
        "checkpoint_epoch": checkpoint_epoch(out),
        "model": (out / "model.safetensors").exists(),
        "lock_file": (out.parent / f".{out.name}.lock").exists(),
        "tmp_files": sorted(p.name for p in [*out.iterdir(), *out.parent.iterdir()] if p.name.endswith(".tmp")),
    }


def resume(data, out: Path, epochs: int, reference: dict) -> dict:
    done = subprocess.run(command(data, out, epochs, "--resume"), capture_output=True, text=True, timeout=600)
    said = [line for line in done.stderr.splitlines() if line.startswith("resuming after epoch")]
    weights = Tagger.load(out).model.state_dict() if done.returncode == 0 else {}
    return {
        "resume_exit": done.returncode,
        "resumed": said[0] if said else done.stderr.strip().splitlines()[-1],
        "equal_to_uninterrupted": weights.keys() == reference.keys()
        and all(torch.equal(weights[k], reference[k]) for k in reference),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--after-epoch", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = (
            write_conll(root / "train.conll", synthetic_tagged(240, seed=21)),
            write_conll(root / "dev.conll", synthetic_tagged(40, seed=22)),
        )
        subprocess.run(command(data, root / "reference", args.epochs), check=True, capture_output=True, timeout=600)
        reference = Tagger.load(root / "reference").model.state_dict()
        print("| case | exit | last line | ranks gone after | lock held while ranks ran | left on disk | --resume |")
        print("|---|---|---|---|---|---|---|")
        for name, (target, number) in CASES.items():
            out = root / name.replace(" ", "-")
            row = interrupt(data, out, args.epochs, args.after_epoch, target, number)
            row |= resume(data, out, args.epochs, reference)
            left = [f"checkpoint (epoch {row['checkpoint_epoch']})" if row["checkpoint_epoch"] else "no checkpoint"]
            left += ["model" if row["model"] else "no model", "lock file" if row["lock_file"] else "no lock file"]
            left += [f".tmp: {', '.join(row['tmp_files'])}" if row["tmp_files"] else "no .tmp"]
            same = "equal" if row["equal_to_uninterrupted"] else "NOT equal"
            print(
                f"| {name} | {row['exit']} | {row['said'][:90]} | {row['ranks_gone_s']} s "
                f"| {'yes' if row['lock_held_while_ranks_ran'] else 'NO'} | {', '.join(left)} "
                f"| {row['resumed']} (exit {row['resume_exit']}); final weights {same} to the uninterrupted run's |",
                flush=True,
            )


if __name__ == "__main__":
    main()
