"""Wall time of a small study run serially, and as Ray tasks on a local cluster of 1 and 2 nodes
(one CPU each, on this machine), with a check that every run's records equal the serial run's:

    .venv/bin/python benchmarks/ray_study.py [--spec experiments/hironsan-ray.toml] [--json out.json]

Each run writes to its own folder under /tmp (the spec's `out` is replaced), so nothing earlier
is reused. Needs the ray extra.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ray.cluster_utils import Cluster

from eiwa.study.runner import read_finished, run_experiment
from eiwa.study.spec import load_experiment


def timed(spec_path: str, out: Path, **runner) -> tuple[float, dict]:
    spec = replace(load_experiment(spec_path), out=str(out))
    started = time.perf_counter()
    run_experiment(spec, log=lambda line: print(line, flush=True), **runner)
    return time.perf_counter() - started, read_finished(out / "cells.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="experiments/hironsan-ray.toml")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="eiwa-ray-study-"))
    rows = []
    serial_seconds, serial = timed(args.spec, root / "serial")
    rows.append({"runner": "serial", "seconds": round(serial_seconds, 1), "runs": len(serial)})
    for nodes in (1, 2):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        try:
            seconds, got = timed(args.spec, root / f"ray-{nodes}", ray_address=cluster.address)
        finally:
            cluster.shutdown()
        rows.append(
            {
                "runner": f"ray, {nodes} node(s) of 1 CPU",
                "seconds": round(seconds, 1),
                "runs": len(got),
                "records_equal_serial": got == serial,
            }
        )
    for row in rows:
        print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps({"spec": args.spec, "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
