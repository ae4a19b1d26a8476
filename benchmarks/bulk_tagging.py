"""Sentences a second of a whole `eiwa predict` process tagging a file with --workers 1, --workers 2
and --ray on a local two-node Ray cluster (one CPU each, started here), with a check that every
output is byte for byte that of --workers 1:

    .venv/bin/python benchmarks/bulk_tagging.py TEXTS.txt [--model ja-wiki] [--json out.json]

Each time is a whole command's wall time: start-up, model loads (the main process's and every
worker's) and writing included. Needs the ray extra for the Ray row. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(model: str, texts: str, out: Path, *options: str) -> tuple[float, bytes]:
    command = [sys.executable, "-m", "eiwa", "predict", model, "--input", texts, "--output", str(out), *options]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, out.read_bytes()


def two_node_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", help="a text a line")
    parser.add_argument("--model", default="ja-wiki")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    load_before = [round(load, 2) for load in os.getloadavg()]
    scratch = Path(tempfile.mkdtemp(prefix="eiwa-bulk-"))
    rows, reference, sentences = [], None, 0
    for name, options in (("--workers 1", ()), ("--workers 2", ("--workers", "2")), ("--ray", None)):
        cluster = two_node_cluster() if options is None else None
        try:
            options = ("--ray", cluster.address) if cluster else options
            seconds, output = timed(args.model, args.texts, scratch / "out.jsonl", *options)
        finally:
            if cluster:
                cluster.shutdown()
        if reference is None:
            reference = output
            records = [json.loads(line) for line in output.splitlines()]
            sentences = sum(len(record["sentences"]) for record in records)
        row = {
            "run": name if cluster is None else "--ray (2 local nodes, 1 CPU each)",
            "seconds": round(seconds, 2),
            "texts_per_s": round(len(records) / seconds, 1),
            "sentences_per_s": round(sentences / seconds, 1),
            "same_bytes_as_workers_1": output == reference,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {
        "command": " ".join(["benchmarks/bulk_tagging.py", *sys.argv[1:]]),
        "model": args.model,
        "texts": len(records),
        "sentences": sentences,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "load_average_before": load_before,
        "results": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
