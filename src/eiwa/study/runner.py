"""Running an experiment's (cell, seed) pairs: serially, on a pool of processes (`--workers`) or as
Ray tasks (`--ray`), resumably.

Each finished (cell, seed) is appended to `cells.jsonl` at once, by the process that started the
run alone, so an interrupted run resumes where it stopped. Every run depends only on its cell,
seed and data, so the records of every runner equal a serial run's.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from eiwa.doc import entity_types
from eiwa.errors import EiwaError
from eiwa.persist.files import read_text, reason
from eiwa.readers import raw_text, read
from eiwa.scoring import score
from eiwa.serving.bulk import import_ray, start_ray
from eiwa.study.cv import TaggerFactory, factory, run_splits
from eiwa.study.folds import protocol_splits
from eiwa.study.grid import Cell, cells_of
from eiwa.study.report import write_report
from eiwa.study.spec import ExperimentSpec
from eiwa.study.stats import sentence_counts
from eiwa.tagger import Tagger
from eiwa.training.train import silent

RECORDS = "cells.jsonl"

Log = Callable[[str], None]
Done = Callable[[Cell, int, dict], None]


class Study:
    """What every (cell, seed) of an experiment needs, loaded once per process: the data in both
    views, the splits, the base config and the source model."""

    def __init__(self, spec: ExperimentSpec):
        self.spec = spec
        self.train_view = self._read(split_tokens=True)
        self.test_view = self._read(split_tokens=False) if raw_text(spec.data.format) else self.train_view
        self.splits = protocol_splits(spec.data.protocol, len(self.train_view), spec.data.folds)
        self.base = spec.base_config()
        self.source = Tagger.load(spec.source.model) if spec.source else None
        self.label_spec = spec.source.label_map if spec.source else "auto"
        self.all_types = entity_types(self.train_view)
        self.largest_training_part = max(len(train_ids) for train_ids, _, _ in self.splits)

    def _read(self, split_tokens: bool) -> list:
        data = self.spec.data
        return read(
            data.path,
            data.format,
            data.lang,
            columns=data.columns,
            token_prefix=data.token_prefix,
            split_tokens=split_tokens,
            allow_empty=data.allow_empty,
        ).sentences

    def check(self, cell: Cell) -> None:
        """Errors of a cell's setting, raised before any training starts."""
        from eiwa.crosslingual.starts import AUTO, parse_start_modules

        if parse_start_modules(cell.modules) and self.source is None:
            raise EiwaError(f"cell {cell.key} transfers modules but the experiment has no [source]")
        if cell.size == 0 and self.label_spec == "auto":
            raise EiwaError("size 0 (zero-shot) needs an explicit [source] label_map, not auto")
        if cell.size == 0 and cell.modules == AUTO:
            raise EiwaError("modules auto chooses on dev data after training: not for size 0 (zero-shot)")

    def run(self, cell: Cell, seed: int, log: Log) -> dict:
        """Train and test one (cell, seed) over every split: its record for cells.jsonl."""
        from eiwa.crosslingual.starts import AUTO

        self.check(cell)
        config = replace(
            self.base,
            seed=seed,
            word_input=cell.word_input,
            char_input=cell.char_input,
            features=cell.features or self.base.features,
        ).validate()
        chosen: list[str] = []
        gold, predicted, dev_f1s = run_splits(
            config,
            self.train_view,
            self.test_view,
            self.splits,
            self._starts(cell.modules),
            cell.size,
            log=log,
            label=f"  {cell.key} seed {seed} ",
            chosen=chosen,
            device=self.spec.device,
        )
        record = {
            "key": f"{cell.key}|{seed}",
            "cell": cell.key,
            "seed": seed,
            **score(gold, predicted).to_dict(),
            "sentence_counts": [sentence_counts(g, p) for g, p in zip(gold, predicted)],
        }
        if dev_f1s:  # the mean over splits of the best dev F1: what a setting is chosen on
            record["dev_f1"] = statistics.fmean(dev_f1s)
        if cell.modules == AUTO:
            record["chosen"] = chosen  # per split: the start model --modules auto kept
        return record

    def _starts(self, cell_modules: str) -> TaggerFactory | None:
        """What each split trains from: None (scratch), the source's modules, or for `auto` the
        candidate start models (each is trained, and the best on dev kept)."""
        from eiwa.build import Start
        from eiwa.crosslingual.starts import parse_start_modules

        modules = parse_start_modules(cell_modules)
        if not modules:
            return None
        return factory(Start([self.source], modules, self.label_spec, self.all_types))


def run_experiment(
    spec: ExperimentSpec,
    log: Log = print,
    cells: list[Cell] | None = None,
    workers: int = 1,
    ray_address: str | None = None,
) -> Path:
    """Run every unfinished (cell, seed) of `cells` (default: all); then write results.json,
    RESULTS.md and the plots (from everything finished, including cells run earlier).

    With `workers` > 1 the (cell, seed) runs go to that many processes (each loads the study
    once); with `ray_address`, to Ray tasks. Use `--set threads=1` so that parallel runs do not
    oversubscribe the cores."""
    out = _results_folder(Path(spec.out))
    records = out / RECORDS
    finished = read_finished(records)
    study = Study(spec)
    _end_with_newline(records)
    pending = _pending_runs(study, cells_of(spec.grids) if cells is None else cells, records, finished, log)

    def done(cell: Cell, seed: int, record: dict) -> None:
        append_record(records, finished, record)
        log(f"{cell.key} seed {seed}: P {record['precision']:.4f} R {record['recall']:.4f} F1 {record['f1']:.4f}")

    if ray_address is not None and pending:
        _run_on_ray(spec, pending, done, ray_address, study.base.threads, log)
    elif workers <= 1 or len(pending) <= 1:
        for cell, seed in pending:
            done(cell, seed, study.run(cell, seed, log))
    else:
        _run_in_processes(spec, pending, done, workers, study.base.threads, log)
    # Read back: another process (a second `eiwa experiment` on the same out) may have added records.
    write_report(spec, read_finished(records), out)
    return out


def _pending_runs(
    study: Study, cells: list[Cell], records: Path, finished: dict[str, dict], log: Log
) -> list[tuple[Cell, int]]:
    """The (cell, seed) runs still to do, each once, every cell checked first. A size that covers
    every training part trains exactly the full-size cell: it takes that cell's record, if finished."""
    pending: dict[str, tuple[Cell, int]] = {}
    for cell in cells:
        study.check(cell)
        for seed in study.spec.seeds:
            key = f"{cell.key}|{seed}"
            if key in finished or key in pending:
                continue  # done earlier, or in another grid of this run
            whole = f"{replace(cell, size=None).key}|{seed}"
            if cell.size is not None and cell.size >= study.largest_training_part and whole in finished:
                append_record(records, finished, {**finished[whole], "key": key, "cell": cell.key})
                log(f"{cell.key} seed {seed}: the whole training set, as {whole}")
                continue
            pending[key] = (cell, seed)
    return list(pending.values())


def _results_folder(out: Path) -> Path:
    """The study's folder, made if need be; a file in its place, or above it, is one line."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise EiwaError(f"{out}: cannot be the results folder: a file is there") from None
    except OSError as error:
        raise EiwaError(f"{out}: cannot make the results folder ({reason(error)})") from None
    return out


# ----------------------------------------------------------------------------- the records file


def read_finished(path: Path) -> dict[str, dict]:
    """The records of cells.jsonl by key (a later record of a key wins)."""
    finished = {}
    if path.exists():
        for line in read_text(path, EiwaError, "results file").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by an interruption: that cell simply runs again
            finished[record["key"]] = record
    return finished


def append_record(path: Path, finished: dict[str, dict], record: dict) -> None:
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


# ----------------------------------------------------------------------------- a pool of processes


_WORKER_STUDY: Study | None = None  # per worker process: the study is loaded once, not per run
_WORKER_QUIET = False  # the command's --quiet, in each worker process


def _run_in_processes(
    spec: ExperimentSpec, pending: list[tuple[Cell, int]], done: Done, workers: int, threads: int, log: Log
) -> None:
    """Every (cell, seed) in one of `workers` processes; this process records each as it finishes."""
    import concurrent.futures
    import multiprocessing

    if threads == 0:
        raise EiwaError(
            "--workers needs a fixed torch thread count per run, e.g. --set threads=1 "
            "(workers x threads should not exceed the cores)"
        )
    log(f"{len(pending)} runs on {min(workers, len(pending))} worker processes")
    # spawn, not fork: a forked copy of a process that has used torch's thread pools can hang.
    with concurrent.futures.ProcessPoolExecutor(
        min(workers, len(pending)),
        multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(spec, log is silent),
    ) as pool:
        running = {pool.submit(_work, cell, seed): (cell, seed) for cell, seed in pending}
        for future in concurrent.futures.as_completed(running):
            done(*running[future], future.result())


def _start_worker(spec: ExperimentSpec, quiet: bool = False) -> None:
    global _WORKER_STUDY, _WORKER_QUIET
    _WORKER_STUDY, _WORKER_QUIET = Study(spec), quiet


def _work(cell: Cell, seed: int) -> dict:
    return _WORKER_STUDY.run(cell, seed, silent if _WORKER_QUIET else lambda line: print(line, flush=True))


# ----------------------------------------------------------------------------- Ray


_RAY_STUDIES: dict[ExperimentSpec, Study] = {}  # per Ray worker process: a study is loaded once, not per task


def _run_on_ray(
    spec: ExperimentSpec, pending: list[tuple[Cell, int]], done: Done, address: str, threads: int, log: Log
) -> None:
    """Every (cell, seed) as a Ray task asking for `threads` CPUs (and a GPU on CUDA); this process
    alone writes records, each as its task finishes. Ray runs a task again, up to 3 times, when
    the worker process or node running it dies; a cell's own error is not retried.

    `address`: "local" starts a Ray instance on this machine for the run; "auto" joins the
    cluster this machine belongs to (`ray start`); anything else is a cluster address."""
    if threads == 0:
        raise EiwaError(
            "--ray needs a fixed torch thread count per run, e.g. --set threads=1 "
            "(each task asks Ray for that many CPUs)"
        )
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        start_ray(ray, address)
    try:
        gpus = 1 if spec.device.startswith("cuda") else 0
        task = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=3, retry_exceptions=False)(_ray_cell)
        spec_ref = ray.put(_portable(spec))
        running = {task.remote(spec_ref, cell, seed): (cell, seed) for cell, seed in pending}
        slots = max(1, int(ray.cluster_resources().get("CPU", threads)) // threads)
        log(f"{len(pending)} runs as Ray tasks ({threads} CPU each; the cluster has room for {slots} at once)")
        while running:
            _finish_one_ray_task(ray, running, done)
            finished = len(pending) - len(running)
            log(f"  cells: {finished} done, {min(len(running), slots)} running, {max(0, len(running) - slots)} waiting")
    finally:
        if started:
            ray.shutdown()


def _finish_one_ray_task(ray, running: dict, done: Done) -> None:
    """Wait for the next task to end, and record its run (or raise its error)."""
    ready, _ = ray.wait(list(running), num_returns=1)
    cell, seed = running.pop(ready[0])
    try:
        record = ray.get(ready[0])
    except ray.exceptions.RayTaskError as error:  # the cell's own error, as it was raised
        raise error.as_instanceof_cause() from None
    except ray.exceptions.WorkerCrashedError:
        raise EiwaError(f"{cell.key} seed {seed}: its worker died 4 times; run the study again to retry it") from None
    done(cell, seed, record)


def _portable(spec: ExperimentSpec) -> ExperimentSpec:
    """The spec with the paths it reads made absolute: a Ray worker may start in another folder
    (on other machines, the same absolute paths must hold the same files: see docs/SCALING.md)."""
    data, source = spec.data, spec.source
    if data.path:
        data = replace(data, path=str(Path(data.path).resolve()))
    if source and Path(source.model).exists():
        source = replace(source, model=str(Path(source.model).resolve()))
    return replace(spec, data=data, source=source)


def _ray_cell(spec: ExperimentSpec, cell: Cell, seed: int) -> dict:
    """A Ray task: one (cell, seed) run; its worker process keeps the study for the next task."""
    if spec not in _RAY_STUDIES:
        _RAY_STUDIES.clear()
        _RAY_STUDIES[spec] = Study(spec)
    return _RAY_STUDIES[spec].run(cell, seed, lambda line: print(line, flush=True))
