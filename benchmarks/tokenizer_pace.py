"""eiwa's tagging rate against MeCab's own, on the same texts, in one run.

    .venv/bin/python benchmarks/tokenizer_pace.py --model ja-wiki --model models/char-word
    .venv/bin/python benchmarks/tokenizer_pace.py --model ja-wiki --memory 1000,5843,200000

The texts are the unique texts of the Stockmark set (../shared/data) and of the Hironsan corpus.
Every pass is a fresh process, run twice: over all texts and over the first one alone. The
difference of the two wall times is the *marginal* time, so start-up and model loading are left
out of the rate (they are reported on their own, as "one text"). Passes:

    mecab      fugashi + unidic-lite alone: every token's surface and pos1 read in Python
    tokenizer  eiwa's Japanese tokenizer alone (`tokenizer_for("ja").sentences`, 1,000 texts a call)
    MODEL      `eiwa predict MODEL --input texts.txt` (JSON lines to standard output, discarded)

Peak RSS is each process's own (wait4). `--memory N,...` runs `eiwa predict` of the first model
over N texts (the corpus repeated to make N) and reports peak RSS for each. Results are printed
as a table and written as JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
EIWA = [sys.executable, "-m", "eiwa"]

MECAB_ALONE = """
import sys, fugashi, unidic_lite, os
tagger = fugashi.Tagger(f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"')
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    for word in tagger(line.rstrip("\\n")):
        n += len(word.surface) + len(word.feature.pos1 or "")
print(n)
"""

TOKENIZER_ALONE = """
import sys, itertools
from eiwa.tokenize import tokenizer_for
tokenizer, lines = tokenizer_for("ja"), (line.rstrip("\\n") for line in open(sys.argv[1], encoding="utf-8"))
n = 0
while chunk := list(itertools.islice(lines, 1000)):
    n += sum(map(len, tokenizer.sentences(chunk)))
print(n)
"""


def unique_texts() -> list[str]:
    from hironsan.corpus import hiron2016

    records = json.loads((DATA / "stockmark-wikipedia-ner" / "ner.json").read_text(encoding="utf-8"))
    texts = [r["text"] for r in records]
    for part in ("train", "test"):
        texts += ["".join(row[0] for row in sentence) for sentence in hiron2016.iob_sents(part)]
    texts = [" ".join(t.split()) for t in texts]  # one text per line
    return list(dict.fromkeys(t for t in texts if t))


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def write_texts(folder: Path, name: str, texts: list[str]) -> Path:
    path = folder / name
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return path


def marginal(command_for, all_path: Path, one_path: Path, count: int, repeats: int) -> dict:
    """The best of `repeats` runs over all texts and over one: marginal rate, start-up, peak RSS."""
    full = min((run(command_for(all_path)) for _ in range(repeats)), key=lambda r: r[0])
    one = min((run(command_for(one_path)) for _ in range(repeats)), key=lambda r: r[0])
    seconds = full[0] - one[0]
    return {
        "texts": count,
        "seconds_all": round(full[0], 3),
        "seconds_one": round(one[0], 3),
        "texts_per_second": round((count - 1) / seconds, 1),
        "peak_rss_mb": round(full[1], 1),
    }


def predict_command(model: str):
    return lambda path: [*EIWA, "predict", model, "--input", str(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="a model to time (repeatable)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each pass; the fastest counts")
    parser.add_argument("--memory", help="comma-separated text counts for peak RSS of the first model")
    parser.add_argument("--out", default="benchmarks/results/tokenizer-pace.json")
    args = parser.parse_args()
    texts = unique_texts()
    results: dict = {"texts": len(texts), "passes": {}, "memory": {}}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        all_path, one_path = write_texts(folder, "all.txt", texts), write_texts(folder, "one.txt", texts[:1])
        mecab, tokenizer = folder / "mecab.py", folder / "tokenizer.py"
        mecab.write_text(MECAB_ALONE)
        tokenizer.write_text(TOKENIZER_ALONE)
        passes = {
            "mecab": lambda path: [sys.executable, str(mecab), str(path)],
            "tokenizer": lambda path: [sys.executable, str(tokenizer), str(path)],
        }
        passes.update({model: predict_command(model) for model in args.model})
        for name, command_for in passes.items():
            results["passes"][name] = marginal(command_for, all_path, one_path, len(texts), args.repeats)
            print(name, results["passes"][name], flush=True)
        for count in [int(c) for c in args.memory.split(",")] if args.memory else []:
            repeated = (texts * (count // len(texts) + 1))[:count]
            path = write_texts(folder, f"{count}.txt", repeated)
            wall, rss = run(predict_command(args.model[0])(path))
            results["memory"][count] = {"seconds": round(wall, 2), "peak_rss_mb": round(rss, 1)}
            print(f"{count} texts", results["memory"][count], flush=True)
    mecab = results["passes"]["mecab"]["texts_per_second"]
    print(f"\n{len(texts)} unique texts; marginal texts/s, and the share of MeCab's own rate:")
    for name, result in results["passes"].items():
        rate = result["texts_per_second"]
        print(
            f"  {name:30} {rate:9,.0f}/s  {rate / mecab:6.1%}  one text {result['seconds_one']:.2f} s  "
            f"peak RSS {result['peak_rss_mb']:,.0f} MB"
        )
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
