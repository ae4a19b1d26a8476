"""A load test of `eiwa serve` on loopback, driven by wrk (a compiled load generator: `apt-get install wrk`).

    .venv/bin/python benchmarks/serve_load.py          # ja-wiki, Stockmark test, 1, 10, 100 connections

    options: --model ja-wiki --texts ../shared/data/stockmark-wikipedia-ner/ner.json --connections 1,10,100
             --duration 20 --warmup 5 --per-request 1 --server-options "--workers 2" --json out.json

Starts `eiwa serve MODEL` on a free port and waits for /healthz; checks one request's answer; then,
for each number of connections, runs wrk for `--warmup` seconds (discarded) and for `--duration`
seconds (measured). Every connection sends its next request when the last one is answered; each
request is one POST /v1/ner of `--per-request` texts, rotating through the test split of the
Stockmark file (i % 10 == 9), or through a CoNLL file's sentences or a text file's lines. During
each measured run it samples the CPU time of wrk, of the server's processes and of the whole machine,
and reports what each took of the cores. Prints a table; writes the results as JSON
(default benchmarks/results/serve-wrk-MODEL.json). A benchmark only: no test needs wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().with_suffix(".lua")
TICKS = os.sysconf("SC_CLK_TCK")


def texts_of(path: str) -> list[str]:
    """The texts to send: a Stockmark-style JSON array's test split, a CoNLL file's sentences, or lines."""
    if path.endswith(".json"):
        records = json.loads(Path(path).read_text(encoding="utf-8"))
        return [record["text"] for i, record in enumerate(records) if i % 10 == 9]
    text = Path(path).read_text(encoding="utf-8")
    if "\t" in text or " O\n" in text:
        from eiwa.readers.conll import read_conll

        return [" ".join(t.text for t in s.tokens) for s in read_conll(path, "en").sentences]
    return [line for line in text.splitlines() if line.strip()]


def write_bodies(texts: list[str], per_request: int, path: Path) -> list[str]:
    """One JSON request body a line, `per_request` consecutive texts each, covering every text once."""
    bodies = []
    for start in range(0, len(texts), per_request):
        batch = [texts[(start + k) % len(texts)] for k in range(per_request)]
        bodies.append(json.dumps({"texts": batch}, ensure_ascii=False))
    path.write_text("\n".join(bodies) + "\n", encoding="utf-8")
    return bodies


def process_times() -> dict[int, tuple[int, float]]:
    """Every process's parent and CPU seconds (user + system, all its threads), from /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    return table


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process and all its descendants (uvicorn's workers, with --workers)."""
    table = process_times()
    tree, frontier = set(), {root}
    while frontier:
        tree |= frontier
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier and pid not in tree}
    return sum(table[pid][1] for pid in tree if pid in table)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores; not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


def own_cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process and of its waited-for children (each wrk run, once it has ended)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def wrk(url: str, connections: int, threads: int, seconds: float, bodies: Path) -> tuple[dict, str]:
    """One wrk run: its summary (from the Lua script's done()) and its printed report."""
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "60s"]
    command += ["--latency", "-s", str(LUA), url, "--", str(bodies)]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"^EIWA_SUMMARY (.*)$", finished.stdout, re.M)
    if finished.returncode or not found:
        sys.exit(f"wrk failed (exit {finished.returncode}): {finished.stderr.strip() or finished.stdout.strip()}")
    return json.loads(found.group(1)), finished.stdout[: found.start()].rstrip()


def measured_run(url: str, server: int, connections: int, args, bodies: Path) -> dict:
    """A measured wrk run at `connections`, with the CPU each party took meanwhile."""
    self_before, wrk_before = own_cpu_seconds()
    server_before, busy_before = tree_cpu_seconds(server), machine_busy_seconds()
    started = time.monotonic()
    summary, report = wrk(url, connections, args.threads, args.duration, bodies)
    wall = time.monotonic() - started
    self_after, wrk_after = own_cpu_seconds()
    server_cpu = tree_cpu_seconds(server) - server_before
    busy = machine_busy_seconds() - busy_before
    wrk_cpu, own_cpu = wrk_after - wrk_before, self_after - self_before
    cores = os.cpu_count()
    seconds = summary["duration_us"] / 1e6
    failed = sum(summary["errors"].values())
    latency = summary["latency_us"]
    answered = summary["requests"] - summary["errors"]["status"]

    def share(cpu: float) -> float:  # percent of all the machine's cores over the run
        return round(100 * cpu / (wall * cores), 1)

    return {
        "connections": connections,
        "requests": summary["requests"],
        "failed": failed,
        "seconds": round(seconds, 2),
        "requests_per_s": round(answered / seconds, 1),
        "sentences_per_s": round(answered * args.per_request / seconds, 1),
        **{f"{name}_ms": round(latency[name] / 1000, 1) for name in ("p50", "p75", "p90", "p99", "p99.9")},
        "mean_ms": round(latency["mean"] / 1000, 1),
        # less sensitive to what else runs on the machine than the rate itself
        "server_cpu_ms_per_sentence": round(1000 * server_cpu / max(1, answered * args.per_request), 2),
        "max_ms": round(latency["max"] / 1000, 1),
        "cpu_seconds": {
            "server": round(server_cpu, 2),
            "wrk": round(wrk_cpu, 2),
            "this_script": round(own_cpu, 2),
            "other_processes": round(max(0.0, busy - server_cpu - wrk_cpu - own_cpu), 2),
            "wall": round(wall, 2),
        },
        "cpu_share_pct": {
            "server": share(server_cpu),
            "wrk": share(wrk_cpu),
            "other_processes": share(max(0.0, busy - server_cpu - wrk_cpu - own_cpu)),
            "idle": share(max(0.0, wall * cores - busy)),
        },
        "wrk_report": report,
    }


def check_answer(url: str, body: str, per_request: int) -> None:
    """One request by hand: the server must answer one result per text, before any load is measured."""
    request = urllib.request.Request(
        url + "/v1/ner", body.encode("utf-8"), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    if not isinstance(answer, list) or len(answer) != per_request:
        sys.exit(f"the server answered {str(answer)[:200]} to {body[:200]}")


def table(results: list[dict], per_request: int) -> str:
    lines = [
        "| connections | sentences/s | requests/s | p50 | p90 | p99 | failed | server CPU | wrk CPU | others | idle "
        "| server CPU a sentence |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        share = row["cpu_share_pct"]
        lines.append(
            f"| {row['connections']} | {row['sentences_per_s']:,.0f} | {row['requests_per_s']:,.0f} "
            f"| {row['p50_ms']:g} ms | {row['p90_ms']:g} ms | {row['p99_ms']:g} ms | {row['failed']} "
            f"| {share['server']:g}% | {share['wrk']:g}% | {share['other_processes']:g}% | {share['idle']:g}% "
            f"| {row['server_cpu_ms_per_sentence']:g} ms |"
        )
    cores = os.cpu_count()
    lines.append(f"({per_request} sentence(s) a request; CPU as a share of all {cores} cores over each run)")
    return "\n".join(lines)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ja-wiki")
    parser.add_argument("--texts", default=str(ROOT.parent / "shared/data/stockmark-wikipedia-ner/ner.json"))
    parser.add_argument("--connections", default="1,10,100", help="comma-separated; one run each")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured at each level")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before each measured run")
    parser.add_argument("--per-request", type=int, default=1, help="texts a request")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (one drives 100 connections)")
    parser.add_argument("--server-options", default="", help='options for eiwa serve, e.g. "--workers 2"')
    parser.add_argument("--json", help="where to write the results (default benchmarks/results/serve-wrk-MODEL.json)")
    args = parser.parse_args()
    if args.json is None:
        suffix = "" if args.per_request == 1 else f"-{args.per_request}"
        args.json = str(ROOT / f"benchmarks/results/serve-wrk-{args.model}{suffix}.json")
    return args


def main() -> None:
    args = arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian, Ubuntu: apt-get install wrk)")
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split(" Copyright")[0]
    texts = texts_of(args.texts)
    from eiwa.serving.http import launch

    scratch = Path(tempfile.mkdtemp(prefix="eiwa-wrk-"))
    bodies = scratch / "bodies.jsonl"
    first = write_bodies(texts, args.per_request, bodies)[0]
    load_before = os.getloadavg()
    server, url = launch(
        args.model, *args.server_options.split(), timeout_s=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    results = []
    try:
        check_answer(url, first, args.per_request)
        for connections in [int(c) for c in args.connections.split(",")]:
            if args.warmup > 0:
                wrk(url, connections, args.threads, args.warmup, bodies)
            results.append(measured_run(url, server.pid, connections, args, bodies))
            print(f"{connections} connections: {results[-1]['sentences_per_s']:,.0f} sentences/s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(scratch)
    print(table(results, args.per_request))
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    )
    record = {
        "model": args.model,
        "commit": commit.stdout.strip(),
        "texts": f"{args.texts} ({len(texts)} texts)",
        "per_request": args.per_request,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "server_options": args.server_options,
        "generator": f"{version}, {args.threads} thread(s), Lua script {LUA.name}",
        "cores": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "results": results,
    }
    Path(args.json).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
