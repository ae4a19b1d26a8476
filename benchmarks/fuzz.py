"""The long fuzz run (issue 12): tests/test_fuzz.py's targets with many generated inputs each.

    .venv/bin/python benchmarks/fuzz.py --examples 3000     # 54,300 inputs over 19 targets, about 27 minutes

Property, for every input: no exception but EiwaError, and every predicted span slices the input.
Writes benchmarks/results/fuzz.json (or --output): inputs per target, total, seconds, and each distinct
unexpected exception (target, type, the eiwa line that raised it, message, count, shortest input):
the targets record them and go on generating, so one run lists them all.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000, help="generated inputs per target")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz.json")
    parser.add_argument("-k", dest="targets", help="only the targets this pytest -k expression selects")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        counts = Path(scratch) / "counts.json"
        failures_file = Path(scratch) / "failures.json"
        env = {
            **os.environ,
            "EIWA_FUZZ_EXAMPLES": str(args.examples),
            "EIWA_FUZZ_COUNT": str(counts),
            "EIWA_FUZZ_FAILURES": str(failures_file),
            "OMP_NUM_THREADS": "1",
        }
        started = time.perf_counter()
        run = subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py"),
                *(("-k", args.targets) if args.targets else ()),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        per_target = json.loads(counts.read_text(encoding="utf-8")) if counts.exists() else {}
        failures = json.loads(failures_file.read_text(encoding="utf-8")) if failures_file.exists() else {}
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    result = {
        "examples_per_target": args.examples,
        "targets": args.targets or "all",
        "inputs": per_target,
        "total_inputs": sum(per_target.values()),
        "pytest": summary,
        "unexpected_exceptions": sum(failure["count"] for failure in failures.values()),
        "failures": failures,
        "passed": run.returncode == 0 and not failures,
        "seconds": round(seconds, 1),
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if run.returncode != 0:
        print(run.stdout[-6000:], file=sys.stderr)
    args.output.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
