"""A bounded load test of `eiwa serve` on loopback.

    .venv/bin/python benchmarks/serve_load.py --model conll03-en --clients 1,10,100 --requests 2000 \\
        [--texts ../shared/data/conll2003/test.txt] [--per-request 1] [--json out.json] \\
        [--server-options "--workers 2"]

Starts `eiwa serve MODEL` on a free port, then for each number of concurrent clients sends a fixed
number of POST /v1/ner requests (each `--per-request` sentences, cycling through the texts), every
client waiting for its answer before it sends again; stops the server with SIGTERM. Prints, per
client count: requests/s, sentences/s, p50 and p99 latency, failed requests. Texts: a CoNLL file
(tokens joined by spaces), a Stockmark-style JSON file (its "text" fields) or a text file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import time
from pathlib import Path

import httpx


def texts_of(path: str) -> list[str]:
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith((".json", ".jsonl")):
        from eiwa.readers.spans import read_span_records

        return [t for t, _, _ in read_span_records(path)]
    if "\t" in text or " O\n" in text:
        from eiwa.readers.conll import read_conll

        return [" ".join(t.text for t in s.tokens) for s in read_conll(path, "en").sentences]
    return [line for line in text.splitlines() if line.strip()]


async def load(url: str, texts: list[str], clients: int, requests: int, per_request: int) -> dict:
    latencies, failures = [], 0
    counter = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal failures
        for index in counter:
            batch = [texts[(index * per_request + k) % len(texts)] for k in range(per_request)]
            started = time.perf_counter()
            try:
                response = await http.post(url + "/v1/ner", json={"texts": batch}, timeout=60)
                ok = response.status_code == 200 and len(response.json()) == len(batch)
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            failures += not ok

    # One client object (one keep-alive connection) per simulated client: httpx's connection pool
    # scans all its connections on every request, so one pool of 100 made the load generator, not
    # the server, the bottleneck (a whole core at 93 requests/s).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [httpx.AsyncClient(limits=limits) for _ in range(clients)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for http in https))
        wall = time.perf_counter() - started
    finally:
        for http in https:
            await http.aclose()
    latencies.sort()
    return {
        "clients": clients,
        "requests": requests,
        "sentences_per_request": per_request,
        "requests_per_s": round(requests / wall, 1),
        "sentences_per_s": round(requests * per_request / wall, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "failed": failures,
        "seconds": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", default="../shared/data/conll2003/test.txt")
    parser.add_argument("--clients", default="1,10,100")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--per-request", type=int, default=1)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--server-options", default="", help='options for eiwa serve, e.g. "--workers 2"')
    args = parser.parse_args()
    texts = texts_of(args.texts)
    from eiwa.serving.http import launch

    server, url = launch(args.model, *args.server_options.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(load(url, texts, 4, 50, args.per_request))  # warm-up: caches, first batches
        results = [
            asyncio.run(load(url, texts, int(c), args.requests, args.per_request)) for c in args.clients.split(",")
        ]
    finally:
        server.terminate()
        server.wait(timeout=60)
    for row in results:
        print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"model": args.model, "texts": args.texts, "results": results}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
