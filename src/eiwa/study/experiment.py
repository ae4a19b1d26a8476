"""`eiwa experiment CONFIG.toml`: the transfer study, on any target data, resumable.

An experiment is a set of grids. Each grid crosses module subsets, the two input choices and
training-set sizes; every cell of it is trained and tested once per seed (all folds, for k-fold
data). Each finished (cell, seed) is appended to `cells.jsonl` at once, so an interrupted run
resumes where it stopped. The report compares every transfer cell with the scratch cell (`none`)
of the same inputs and size: mean ± std over seeds, the difference, and a paired approximate
randomization test over test sentences (all seeds pooled). Paths in the file (`out`, `data.path`)
are relative to the directory the command runs in, as on the command line.

    name = "hironsan"
    out = "results/hironsan"          # default: results/<name>
    seeds = [1, 2, 3]
    [data]
    lang = "ja"
    format = "hironsan"               # or spans / conll with path = "..."
    protocol = "kfold"                # kfold (folds = 5) or split (the Stockmark rule: i % 10 == 8 dev, 9 test)
    folds = 5
    [source]
    model = "conll03-en"
    label_map = "PER=PSN,LOC=LOC,ORG=ORG,MISC=ART"   # or auto (not for size 0)
    [train]
    config = "small-data"
    set = ["max_epochs=40"]
    [[grid]]
    name = "modules"
    modules = ["none", "char", "char,classifier"]
    word_input = ["native"]
    char_input = ["romaji"]
    sizes = [0, 100, 500]             # optional; default all; 0 (zero-shot) only for cells that transfer the
                                      # classifier and every feature (char,word,classifier by default);
                                      # a size covering the whole training set reuses the full-size cell
    features = ["char,word", "char,word,pos"]   # optional; default: the [train] config's features

A cell with its own `features` is compared with scratch of the same features (Δ, p) and, when it
trains from scratch, also with scratch of the config's default features ("Δ default", "p default"):
that is how a feature's own gain is read.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from eiwa.config import load_config
from eiwa.study.cv import Split, kfold_splits, run_splits, shared_split
from eiwa.readers.core import entity_types, read_corpus
from eiwa.errors import EiwaError
from eiwa.scoring import score
from eiwa.persist.atomic import write_atomic
from eiwa.tagger import Tagger

SCRATCH = "none"
ZERO_SHOT = "char,word,classifier"  # size 0: the English model tags Japanese through the label map


@dataclass(frozen=True)
class Cell:
    grid: str
    modules: str
    word_input: str
    char_input: str
    size: int | None  # None: all training sentences
    features: str | None = None  # None: the config's features

    @property
    def key(self) -> str:
        """What is trained: the same setting in two grids is run (and stored) once."""
        size = "all" if self.size is None else str(self.size)
        key = f"{self.modules}|{self.word_input}|{self.char_input}|{size}"
        return f"{key}|{self.features}" if self.features else key  # keys of default-feature cells predate features

    def scratch(self) -> "Cell":
        """Scratch with the same inputs, size and features."""
        return replace(self, modules=SCRATCH)

    def reference(self) -> "Cell":
        """Scratch with the config's default features (what a feature's gain is measured against)."""
        return replace(self, modules=SCRATCH, features=None)


def load_experiment(path: str | Path) -> dict:
    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EiwaError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise EiwaError(f"{path}: not UTF-8 ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise EiwaError(f"{path}: invalid TOML: {error}") from None
    return experiment_spec(spec, path)


def experiment_spec(spec: dict, path: str | Path = "experiment") -> dict:
    """An experiment file's parsed contents, checked and with its defaults filled in."""
    for key in ("name", "data", "grid"):
        if key not in spec:
            raise EiwaError(f"{path}: missing {key!r}")
    spec.setdefault("seeds", [1, 2, 3])
    spec.setdefault("out", f"results/{spec['name']}")
    _check_shape(path, spec)
    spec["data"].setdefault("protocol", "kfold")
    if spec["data"]["protocol"] not in ("kfold", "split"):
        raise EiwaError(f"{path}: data.protocol must be kfold or split")
    return spec


def _check_shape(path: Path, spec: dict) -> None:
    """Every key of an experiment file has the type the study reads it as."""
    def fail(key, expected):
        raise EiwaError(f"{path}: {key} must be {expected}")

    def strings(value):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    if not isinstance(spec["name"], str) or not spec["name"]:
        fail("name", "a non-empty string")
    if not isinstance(spec["out"], str):
        fail("out", "a string")
    if not (isinstance(spec["seeds"], list) and spec["seeds"]
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in spec["seeds"])):
        fail("seeds", "a non-empty list of integers of at least 0")
    for table in ("data", "source", "train"):
        if table in spec and not isinstance(spec[table], dict):
            fail(f"[{table}]", "a table")
    if "set" in spec.get("train", {}) and not strings(spec["train"]["set"]):
        fail("train.set", 'a list of "key=value" strings')
    if not (isinstance(spec["grid"], list) and spec["grid"] and all(isinstance(g, dict) for g in spec["grid"])):
        fail("grid", "one or more [[grid]] tables")
    for number, grid in enumerate(spec["grid"], start=1):
        if not isinstance(grid.get("name"), str):
            fail(f"grid {number}'s name", "a string")
        for key in ("modules", "word_input", "char_input", "features"):
            if key in grid and not strings(grid[key]):
                fail(f"grid {grid['name']!r}: {key}", "a list of strings")
        if "sizes" in grid and not (isinstance(grid["sizes"], list) and all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in grid["sizes"])):
            fail(f"grid {grid['name']!r}: sizes", "a list of integers of at least 0")


def cells_of(spec: dict) -> list[Cell]:
    """Every grid's cells, in grid order (a setting shared by two grids appears in both)."""
    cells = []
    for grid in spec["grid"]:
        for features, modules, word_input, char_input, size in itertools.product(
            grid.get("features", [None]), grid.get("modules", [SCRATCH]), grid.get("word_input", ["native"]),
            grid.get("char_input", ["native"]), grid.get("sizes", [None]),
        ):
            if size == 0 and not _zero_shot(modules, features):
                continue  # untrained, only the whole English model means anything (scratch scores 0)
            cells.append(Cell(grid["name"], modules, word_input, char_input, size, features))
    return cells


def _zero_shot(modules: str, features: str | None) -> bool:
    """Whether a cell can be tagged untrained (size 0): it transfers the classifier and every one of
    its features (with the config's features, eiwa 0.1's char,word,classifier)."""
    names = modules.split(",")
    if "classifier" not in names:
        return False
    return modules == ZERO_SHOT if features is None else set(features.split(",")) <= set(names)


def select_cells(cells: list[Cell], grids=None, modules=None, sizes=None, features=None) -> list[Cell]:
    """The cells that pass every given filter (None: no filter): to run part of a study first."""
    def size_name(size):
        return "all" if size is None else str(size)

    for wanted, known, what in ((grids, {c.grid for c in cells}, "grid"),
                                (modules, {c.modules for c in cells}, "modules"),
                                (sizes, {size_name(c.size) for c in cells}, "size"),
                                (features, {c.features for c in cells if c.features}, "features")):
        unknown = set(wanted or ()) - known
        if unknown:
            raise EiwaError(f"no {what} {', '.join(sorted(unknown))} in this experiment (it has: {', '.join(sorted(known))})")
    return [c for c in cells
            if (grids is None or c.grid in grids) and (modules is None or c.modules in modules)
            and (sizes is None or size_name(c.size) in sizes) and (features is None or c.features in features)]


class Study:
    """What every (cell, seed) of an experiment needs, loaded once per process: the data in both
    views, the splits, the base config and the source model."""

    def __init__(self, spec: dict):
        self.spec = spec
        data = spec["data"]
        lang = data.get("lang", "ja")
        read = lambda split_tokens: read_corpus(data["format"], data.get("path"), lang, data.get("columns"),  # noqa: E731
                                                data.get("token_prefix"), split_tokens=split_tokens).sentences
        self.train_view = read(True)
        self.test_view = read(False) if data["format"] == "spans" else self.train_view
        self.splits = _splits(data, len(self.train_view))
        self.base = load_config(spec.get("train", {}).get("config"), spec.get("train", {}).get("set", []), lang=lang)
        self.source = Tagger.load(spec["source"]["model"]) if "source" in spec else None
        self.label_spec = spec.get("source", {}).get("label_map", "auto")
        self.all_types = entity_types(self.train_view)
        self.device = spec.get("device", "cpu")  # set by `eiwa experiment --device`, not by the file
        self.largest_training_part = max(len(train_ids) for train_ids, _, _ in self.splits)

    def check(self, cell: Cell) -> None:
        """Errors of a cell's setting, raised before any training starts."""
        from eiwa.transfer.core import AUTO, parse_modules

        if (cell.modules == AUTO or parse_modules(cell.modules)) and self.source is None:
            raise EiwaError(f"cell {cell.key} transfers modules but the experiment has no [source]")
        if cell.size == 0 and self.label_spec == "auto":
            raise EiwaError("size 0 (zero-shot) needs an explicit [source] label_map, not auto")
        if cell.size == 0 and cell.modules == AUTO:
            raise EiwaError("modules auto chooses on dev data after training: not for size 0 (zero-shot)")

    def run(self, cell: Cell, seed: int, log: Callable[[str], None]) -> dict:
        """Train and test one (cell, seed) over every split: its record for cells.jsonl."""
        from eiwa.transfer.core import AUTO, auto_starts, parse_modules, resolve_label_map, transfer

        self.check(cell)
        auto = cell.modules == AUTO
        modules = None if auto else parse_modules(cell.modules)
        config = replace(self.base, seed=seed, word_input=cell.word_input, char_input=cell.char_input,
                         features=cell.features or self.base.features).validate()

        def start(config, train_part, modules):
            label_map = (resolve_label_map(self.label_spec, self.source, config, train_part, target_types=self.all_types)
                         if "classifier" in modules else {})
            return transfer(self.source, config, train_part, modules, label_map)[0]

        def start_from_source(config, train_part):
            if not auto:
                return start(config, train_part, modules)
            return auto_starts(config, train_part, [self.source], lambda _, subset: start(config, train_part, subset))

        chosen: list[str] = []
        gold_all, predicted_all, dev_f1s = run_splits(
            config, self.train_view, self.test_view, self.splits, start_from_source if auto or modules else None,
            cell.size, log=log, label=f"  {cell.key} seed {seed} ", chosen=chosen, device=self.device)
        scores = score(gold_all, predicted_all)
        record = {"key": f"{cell.key}|{seed}", "cell": cell.key, "seed": seed, **scores.to_dict(),
                  "sentence_counts": [_counts(g, p) for g, p in zip(gold_all, predicted_all)]}
        if dev_f1s:  # the mean over splits of the best dev F1: what a setting is chosen on
            record["dev_f1"] = statistics.fmean(dev_f1s)
        if auto:
            record["chosen"] = chosen  # per split: the start model --modules auto kept
        return record


def run_experiment(spec: dict, log: Callable[[str], None] = print, cells: list[Cell] | None = None,
                   workers: int = 1, ray_address: str | None = None) -> Path:
    """Run every unfinished (cell, seed) of `cells` (default: all); then write results.json,
    RESULTS.md and the plots (from everything finished, including cells run earlier).

    With `workers` > 1 the (cell, seed) runs go to that many processes (each loads the study
    once); this process alone writes records, as each run finishes. Every run depends only on
    its cell, seed and data, so the records equal a serial run's (use `--set threads=1` so that
    the workers do not oversubscribe the cores)."""
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    finished_path = out / "cells.jsonl"
    finished = read_finished(finished_path)
    study = Study(spec)
    _end_with_newline(finished_path)

    pending: dict[str, tuple[Cell, int]] = {}
    for cell in cells_of(spec) if cells is None else cells:
        study.check(cell)
        for seed in spec["seeds"]:
            key = f"{cell.key}|{seed}"
            if key in finished or key in pending:
                continue  # done earlier, or in another grid of this run
            # A curve size that covers every training part trains exactly the full-size cell: reuse its record.
            whole = f"{replace(cell, size=None).key}|{seed}"
            if cell.size is not None and cell.size >= study.largest_training_part and whole in finished:
                _append(finished_path, finished, {**finished[whole], "key": key, "cell": cell.key})
                log(f"{cell.key} seed {seed}: the whole training set, as {whole}")
                continue
            pending[key] = (cell, seed)
    pending = list(pending.values())

    def done(cell: Cell, seed: int, record: dict) -> None:
        _append(finished_path, finished, record)
        log(f"{cell.key} seed {seed}: P {record['precision']:.4f} R {record['recall']:.4f} F1 {record['f1']:.4f}")

    if ray_address is not None and pending:
        if study.base.threads == 0:
            raise EiwaError("--ray needs a fixed torch thread count per run, e.g. --set threads=1 "
                            "(each task asks Ray for that many CPUs)")
        _run_on_ray(spec, pending, done, ray_address, study.base.threads, log)
    elif workers <= 1 or len(pending) <= 1:
        for cell, seed in pending:
            done(cell, seed, study.run(cell, seed, log))
    else:
        import concurrent.futures
        import multiprocessing

        if study.base.threads == 0:
            raise EiwaError("--workers needs a fixed torch thread count per run, e.g. --set threads=1 "
                            "(workers x threads should not exceed the cores)")
        log(f"{len(pending)} runs on {min(workers, len(pending))} worker processes")
        # spawn, not fork: a forked copy of a process that has used torch's thread pools can hang.
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(pending)), multiprocessing.get_context("spawn"),
                                                    initializer=_start_worker, initargs=(spec,)) as pool:
            running = {pool.submit(_work, cell, seed): (cell, seed) for cell, seed in pending}
            for future in concurrent.futures.as_completed(running):
                done(*running[future], future.result())
    # Read back: another process (a second `eiwa experiment` on the same out) may have added records.
    write_report(spec, read_finished(finished_path), out)
    return out


RAY_HINT = "pip install 'eiwa[ray]'"


def _run_on_ray(spec: dict, pending: list[tuple[Cell, int]], done: Callable[[Cell, int, dict], None],
                address: str, threads: int, log: Callable[[str], None]) -> None:
    """Every (cell, seed) as a Ray task asking for `threads` CPUs (and a GPU on CUDA); this process
    alone writes records, each as its task finishes. Ray runs a task again, up to 3 times, when
    the worker process or node running it dies; a cell's own error is not retried.

    `address`: "local" starts a Ray instance on this machine for the run; "auto" joins the
    cluster this machine belongs to (`ray start`); anything else is a cluster address."""
    try:
        import ray
    except ImportError:
        raise EiwaError(f"--ray needs Ray: {RAY_HINT}") from None

    spec = _portable(spec)
    started = not ray.is_initialized()
    if started and address not in ("local", "auto"):
        _check_reachable(address)  # Ray itself would keep retrying for minutes
    if started:
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise EiwaError(f"--ray {address}: cannot reach a Ray cluster ({error})") from None
    try:
        gpus = 1 if str(spec.get("device", "cpu")).startswith("cuda") else 0
        task = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=3, retry_exceptions=False)(_ray_cell)
        spec_ref = ray.put(spec)
        running = {task.remote(spec_ref, cell, seed): (cell, seed) for cell, seed in pending}
        slots = max(1, int(ray.cluster_resources().get("CPU", threads)) // threads)
        log(f"{len(pending)} runs as Ray tasks ({threads} CPU each; the cluster has room for {slots} at once)")
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            cell, seed = running.pop(ready[0])
            try:
                record = ray.get(ready[0])
            except ray.exceptions.RayTaskError as error:  # the cell's own error, as it was raised
                raise error.as_instanceof_cause() from None
            except ray.exceptions.WorkerCrashedError:
                raise EiwaError(f"{cell.key} seed {seed}: its worker died 4 times; run the study again to retry it") from None
            done(cell, seed, record)
            finished = len(pending) - len(running)
            log(f"  cells: {finished} done, {min(len(running), slots)} running, {max(0, len(running) - slots)} waiting")
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EiwaError(f"--ray {address}: give HOST:PORT (or auto, or no value for a local instance)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise EiwaError(f"--ray {address}: no Ray cluster answers there ({error.strerror or error})") from None


def _portable(spec: dict) -> dict:
    """The spec with the paths it reads made absolute: a Ray worker may start in another folder
    (on other machines, the same absolute paths must hold the same files: see docs/SCALING.md)."""
    spec = json.loads(json.dumps(spec))
    if spec["data"].get("path"):
        spec["data"]["path"] = str(Path(spec["data"]["path"]).resolve())
    source = spec.get("source", {}).get("model")
    if source and Path(source).exists():
        spec["source"]["model"] = str(Path(source).resolve())
    return spec


_RAY_STUDIES: dict[str, Study] = {}  # per Ray worker process: a study is loaded once, not per task


def _ray_cell(spec: dict, cell: Cell, seed: int) -> dict:
    key = json.dumps(spec, sort_keys=True)
    if key not in _RAY_STUDIES:
        _RAY_STUDIES.clear()
        _RAY_STUDIES[key] = Study(spec)
    return _RAY_STUDIES[key].run(cell, seed, lambda line: print(line, flush=True))


_WORKER_STUDY: Study | None = None


def _start_worker(spec: dict) -> None:
    global _WORKER_STUDY
    _WORKER_STUDY = Study(spec)


def _work(cell: Cell, seed: int) -> dict:
    return _WORKER_STUDY.run(cell, seed, lambda line: print(line, flush=True))


def _append(path: Path, finished: dict[str, dict], record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    finished[record["key"]] = record


def _end_with_newline(path: Path) -> None:
    """After an interruption the last record may be cut off: start new records on a line of their own."""
    if path.exists() and path.stat().st_size:
        with open(path, "rb+") as handle:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")


def read_finished(path: Path) -> dict[str, dict]:
    finished = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by an interruption: that cell simply runs again
            finished[record["key"]] = record
    return finished


def _splits(data: dict, count: int) -> list[Split]:
    """(train, dev or None, test) index lists: k folds, or the single fixed split."""
    if data["protocol"] == "split":
        return [shared_split(count)]
    return kfold_splits(count, data.get("folds", 5))


def _counts(gold, predicted) -> tuple[int, int, int]:
    gold, predicted = set(gold), set(predicted)
    return (len(gold & predicted), len(predicted), len(gold))


# ----------------------------------------------------------------------------- statistics


def micro_f1(counts: np.ndarray) -> float:
    tp, predicted, gold = counts.sum(axis=0)
    return 0.0 if tp == 0 else 2 * tp / (predicted + gold)


def approximate_randomization(a: np.ndarray, b: np.ndarray, trials: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value for the F1 difference of two systems on the same sentences.

    a and b are [sentences, 3] arrays of (true positives, predicted, gold); each trial swaps the
    two systems' outputs on a random half of the sentences (Noreen 1989; Yeh 2000).
    """
    observed = abs(micro_f1(a) - micro_f1(b))
    rng = np.random.default_rng(seed)
    swap = rng.random((trials, len(a))) < 0.5  # [trials, sentences]
    a_sums = np.where(swap[..., None], b, a).sum(axis=1)  # [trials, 3]
    b_sums = np.where(swap[..., None], a, b).sum(axis=1)

    def f1(sums):
        return np.where(sums[:, 0] > 0, 2 * sums[:, 0] / np.maximum(sums[:, 1] + sums[:, 2], 1), 0.0)

    at_least = np.sum(np.abs(f1(a_sums) - f1(b_sums)) >= observed - 1e-12)
    return float((at_least + 1) / (trials + 1))


# ----------------------------------------------------------------------------- report


def summarise(spec: dict, finished: dict[str, dict]) -> list[dict]:
    rows = []
    cells = cells_of(spec)
    for cell in cells:
        runs = [finished.get(f"{cell.key}|{seed}") for seed in spec["seeds"]]
        runs = [r for r in runs if r]
        if not runs:
            continue
        f1s = [r["f1"] for r in runs]
        row = {
            "grid": cell.grid, "modules": cell.modules, "word_input": cell.word_input, "char_input": cell.char_input,
            "size": cell.size, "features": cell.features, "seeds": [r["seed"] for r in runs],
            "f1_mean": statistics.fmean(f1s), "f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
            "precision_mean": statistics.fmean(r["precision"] for r in runs),
            "recall_mean": statistics.fmean(r["recall"] for r in runs),
            "f1_per_seed": f1s,
        }
        if all("dev_f1" in r for r in runs):
            row["dev_f1_mean"] = statistics.fmean(r["dev_f1"] for r in runs)
        if cell.modules != SCRATCH and cell.size != 0:
            scratch_runs = _runs_of(finished, cell.scratch(), row["seeds"])
            if scratch_runs:
                row["scratch_f1_mean"], row["difference"], row["p_value"] = _paired(runs, scratch_runs)
        if cell.features and cell.modules == SCRATCH and cell.size != 0:
            if reference_runs := _runs_of(finished, cell.reference(), row["seeds"]):
                row["reference_f1_mean"], row["reference_difference"], row["reference_p_value"] = _paired(runs, reference_runs)
        if cell.modules != SCRATCH and cell.size:
            # The published "transfer with N sentences beats scratch with 2N" claim: scratch of the same
            # grid and inputs at the smallest size of at least 2N that has this row's seeds.
            doubled = sorted((c for c in cells if c.grid == cell.grid and c.modules == SCRATCH and c.size
                              and c.size >= 2 * cell.size and (c.word_input, c.char_input) == (cell.word_input, cell.char_input)),
                             key=lambda c: c.size)
            for scratch in doubled:
                if double_runs := _runs_of(finished, scratch, row["seeds"]):
                    row["double_size"] = scratch.size
                    row["double_f1_mean"], row["double_difference"], row["double_p_value"] = _paired(runs, double_runs)
                    break
        rows.append(row)
    return rows


def _runs_of(finished: dict[str, dict], cell: Cell, seeds: list[int]) -> list[dict] | None:
    """The cell's records for exactly these seeds, or None if one is missing."""
    runs = [finished.get(f"{cell.key}|{seed}") for seed in seeds]
    return runs if all(runs) else None


def _paired(runs: list[dict], other_runs: list[dict]) -> tuple[float, float, float]:
    """The other system's mean F1, the difference of means, and the paired approximate-randomization p
    over the test sentences of all seeds pooled."""
    def pooled(records):
        return np.concatenate([np.asarray(r["sentence_counts"]) for r in records])

    other_mean = statistics.fmean(r["f1"] for r in other_runs)
    return other_mean, statistics.fmean(r["f1"] for r in runs) - other_mean, approximate_randomization(pooled(runs), pooled(other_runs))


def write_report(spec: dict, finished: dict[str, dict], out: Path) -> None:
    rows = summarise(spec, finished)
    write_atomic(out / "results.json", lambda p: Path(p).write_text(json.dumps(rows, indent=1, ensure_ascii=False)))
    lines = [f"# Experiment {spec['name']}", "",
             f"Seeds {', '.join(map(str, spec['seeds']))}; data {spec['data'].get('format')} "
             f"{spec['data'].get('path', '')} ({spec['data']['protocol']}"
             + (f", {spec['data'].get('folds', 5)} folds pooled" if spec["data"]["protocol"] == "kfold" else "") + ").",
             "F1 is mean ± sample std over seeds; Δ is the difference from training from scratch (`none`) with the same "
             "inputs and size, over the same seeds; p is a paired approximate-randomization test over test sentences "
             "(10,000 trials, seeds pooled). A row with fewer seeds than listed is unfinished.", ""]
    for grid in spec["grid"]:
        grid_rows = [r for r in rows if r["grid"] == grid["name"]]
        if not grid_rows:
            continue
        with_features = any(r["features"] for r in grid_rows)
        extra_head, extra_rule = (" features |", "---|") if with_features else ("", "")
        tail_head, tail_rule = (" Δ default | p default |", "---|---|") if with_features else ("", "")
        lines += [f"## {grid['name']}", "",
                  f"|{extra_head} modules | word input | char input | sentences | seeds | F1 | P | R | Δ F1 | p |{tail_head}",
                  f"|{extra_rule}---|---|---|---|---|---|---|---|---|---|{tail_rule}"]
        for r in grid_rows:
            size = "all" if r["size"] is None else str(r["size"])
            delta = f"{r['difference']:+.4f}" if "difference" in r else ""
            p = f"{r['p_value']:.4f}" if "p_value" in r else ""
            features = f" {r['features'] or base_features(spec)} |" if with_features else ""
            reference = ""
            if with_features:
                reference = (f" {r['reference_difference']:+.4f} | {r['reference_p_value']:.4f} |" if "reference_difference" in r
                             else " | |")
            lines.append(f"|{features} {r['modules']} | {r['word_input']} | {r['char_input']} | {size} | {len(r['seeds'])} | "
                         f"{r['f1_mean']:.4f} ± {r['f1_std']:.4f} | {r['precision_mean']:.4f} | {r['recall_mean']:.4f} | "
                         f"{delta} | {p} |{reference}")
        lines.append("")
        doubled = [r for r in grid_rows if "double_size" in r]
        if doubled:
            lines += [f"Transfer with N sentences against scratch with at least 2N ({grid['name']}; same seeds, paired p):", "",
                      "| modules | word input | char input | N | transfer F1 | scratch sentences | scratch F1 | Δ F1 | p |",
                      "|---|---|---|---|---|---|---|---|---|"]
            lines += [f"| {r['modules']} | {r['word_input']} | {r['char_input']} | {r['size']} | {r['f1_mean']:.4f} | "
                      f"{r['double_size']} | {r['double_f1_mean']:.4f} | {r['double_difference']:+.4f} | {r['double_p_value']:.4f} |"
                      for r in doubled]
            lines.append("")
        if any(r["size"] is not None for r in grid_rows):
            plot = _plot_curve(grid["name"], grid_rows, out)
            lines += [f"![{grid['name']}]({plot.name})", ""]
    write_atomic(out / "RESULTS.md", lambda p: Path(p).write_text("\n".join(lines), encoding="utf-8"))


def base_features(spec: dict) -> str:
    """The features of the experiment's [train] config (what cells without `features` use)."""
    train = spec.get("train", {})
    return load_config(train.get("config"), train.get("set", []), lang=spec["data"].get("lang", "ja")).features


def _plot_curve(name: str, rows: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for (modules, word_input, char_input), group in itertools.groupby(
        sorted(rows, key=lambda r: (r["modules"], r["word_input"], r["char_input"], r["size"] or 0)),
        key=lambda r: (r["modules"], r["word_input"], r["char_input"]),
    ):
        group = [r for r in group if r["size"] is not None]
        axes.errorbar([r["size"] for r in group], [r["f1_mean"] for r in group], yerr=[r["f1_std"] for r in group],
                      marker="o", capsize=3, label=f"{modules} (word {word_input}, char {char_input})")
    # Sizes usually grow geometrically: a log axis spaces them evenly; linear below the smallest
    # positive size, so that 0 (zero-shot) still has a place.
    sizes = sorted({r["size"] for r in rows if r["size"] is not None})
    positive = [size for size in sizes if size > 0]
    if positive:
        axes.set_xscale("symlog", linthresh=positive[0], linscale=0.5)
        axes.set_xticks(sizes, [str(size) for size in sizes], fontsize=7)
        axes.minorticks_off()
    axes.set_xlabel("target training sentences")
    axes.set_ylabel("test F1")
    axes.set_title(name)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    path = out / f"{name}.png"
    figure.tight_layout()
    write_atomic(path, lambda p: figure.savefig(p, format="png", dpi=120))
    plt.close(figure)
    return path

