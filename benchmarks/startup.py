"""Start-up of `eiwa predict MODEL "TEXT"`: the time to the first result and where it goes.

    .venv/bin/python benchmarks/startup.py --model ja-wiki --runs 5

Each run is a fresh process. Printed: the median over the runs of

    interpreter   `python -c pass`
    stages        inside one process, in the order the command does them: click and eiwa.cli,
                  numpy, torch, eiwa's modules for the command, Tagger.load, the first result
                  (`predict_items`)
    cli           `eiwa predict MODEL TEXT` until its first output line, and until it exits

The stages are timed in a process of their own that imports and calls what the command does, with
the command's own start-up settings (`eiwa.cli.lasting_objects`), so that they add up to about the
CLI's time to its first line. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

STAGES = """
import io, json, sys, time
started = time.perf_counter()
marks = {}
def mark(name):
    marks[name] = time.perf_counter()
from eiwa.cli import lasting_objects
mark("click, eiwa.cli")
with lasting_objects():
    import numpy
    mark("numpy")
    import torch
    mark("torch")
    from eiwa.cli import cli
    cli.get_command(None, "predict")
    mark("eiwa modules")
    from eiwa.serving.predict import predict_items
    from eiwa.tagger import Tagger
    tagger = Tagger.load(sys.argv[1])
    mark("model load")
predict_items(tagger, [(sys.argv[2], {})], io.StringIO())
mark("first result")
previous, spans = started, {}
for name, at in marks.items():
    spans[name], previous = at - previous, at
print(json.dumps(spans))
"""


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def cli_times(model: str, text: str) -> tuple[float, float]:
    """Seconds to the first line on standard output, and to the exit."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "eiwa", "predict", model, text], stdout=subprocess.PIPE)
    process.stdout.readline()
    first = time.perf_counter() - started
    if process.wait():
        raise SystemExit(f"eiwa predict {model} failed")
    return first, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ja-wiki")
    parser.add_argument("--text", default="東京に行った")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", help="write the medians here as JSON")
    args = parser.parse_args()
    interpreter = [wall([sys.executable, "-c", "pass"]) for _ in range(args.runs)]
    cli = [cli_times(args.model, args.text) for _ in range(args.runs)]
    stages = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", STAGES, args.model, args.text], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(args.runs)
    ]
    medians = {
        "interpreter": statistics.median(interpreter),
        **{name: statistics.median(run[name] for run in stages) for name in stages[0]},
        "cli first result": statistics.median(first for first, _ in cli),
        "cli exit": statistics.median(end for _, end in cli),
    }
    for name, seconds in medians.items():
        print(f"{name:18} {seconds * 1000:7.0f} ms")
    if args.out:
        with open(args.out, "w") as stream:
            json.dump({name: round(seconds, 3) for name, seconds in medians.items()}, stream, indent=1)


if __name__ == "__main__":
    main()
