"""Wall time of a short `eiwa experiment` study with --workers 1 against --workers 2 (issue 10).

Runs benchmarks/workers.toml twice, each time into a fresh folder, as a whole `eiwa experiment`
process, and checks that the two cells.jsonl hold the same records (--workers must not change
results). Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/workers.py
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "benchmarks" / "workers.toml"


def run(workers: int, scratch: Path) -> tuple[float, dict]:
    out = scratch / f"workers-{workers}"
    spec = scratch / f"workers-{workers}.toml"
    spec.write_text(
        SPEC.read_text(encoding="utf-8").replace('out = "/tmp/eiwa-workers"', f'out = "{out}"'), encoding="utf-8"
    )
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "eiwa"), "experiment", str(spec), "--workers", str(workers)],
        cwd=ROOT,
        check=True,
    )
    wall = time.perf_counter() - started
    records = {}
    for line in (out / "cells.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records[record["key"]] = record
    return wall, records


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        serial, serial_records = run(1, Path(scratch))
        parallel, parallel_records = run(2, Path(scratch))
    result = {
        "trainings": len(serial_records),
        "workers_1_s": round(serial, 1),
        "workers_2_s": round(parallel, 1),
        "speedup": round(serial / parallel, 2),
        "same_records": serial_records == parallel_records,
    }
    print(json.dumps(result, indent=2))
    (ROOT / "benchmarks" / "results" / "workers.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
