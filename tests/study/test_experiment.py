"""Tests for the transfer study (src/eiwa/study/): the paired approximate-randomization test, micro
F1, the experiment file's checks, the cell grid, the data splits, a tiny resumable run with its
report, and the `eiwa experiment` command.

One tiny experiment is run once per module (k-fold, 2 folds, 2 seeds, scratch and transfer from the
session's tiny English model at sizes 0 and 10); tests that rerun it work on a copy of its output.
"""

from __future__ import annotations

import itertools
import json
import shutil
import statistics
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import TINY, synthetic_tagged, write_conll

import eiwa.build
import eiwa.training.run
from eiwa.cli import cli
from eiwa.errors import EiwaError
from eiwa.study.folds import protocol_splits
from eiwa.study.grid import Cell, cells_of, select_cells
from eiwa.study.report import summarise, write_report
from eiwa.study.runner import read_finished, run_experiment
from eiwa.study.spec import GridSpec, experiment_spec, load_experiment
from eiwa.study.stats import approximate_randomization, micro_f1

# ----------------------------------------------------------------------------- statistics


def test_micro_f1_from_counts():
    # (true positives, predicted, gold) per sentence: tp 3, predicted 5, gold 6 -> 2*3/11.
    counts = np.array([[1, 2, 1], [0, 1, 3], [2, 2, 2]])
    assert micro_f1(counts) == pytest.approx(6 / 11)
    assert micro_f1(np.array([[0, 3, 2], [0, 0, 1]])) == 0.0  # no true positives
    assert micro_f1(np.array([[2, 2, 2]])) == 1.0


def test_approximate_randomization_identical_systems():
    counts = np.random.default_rng(0).integers(0, 3, size=(50, 3))
    assert approximate_randomization(counts, counts.copy(), trials=2000) == 1.0


def test_approximate_randomization_clearly_better_system():
    better = np.tile([1, 1, 1], (200, 1))  # every entity found
    worse = np.tile([0, 1, 1], (200, 1))  # every entity wrong
    p = approximate_randomization(better, worse)
    assert 0 < p < 0.01
    assert p == pytest.approx(1 / 10_001)  # no trial reaches the observed difference; the +1 keeps p above 0


def test_approximate_randomization_is_seeded_symmetric_and_in_range():
    rng = np.random.default_rng(1)
    gold = rng.integers(1, 4, size=60)
    a = np.stack([rng.binomial(gold, 0.7), gold, gold], axis=1)
    b = np.stack([rng.binomial(gold, 0.6), gold, gold], axis=1)
    p = approximate_randomization(a, b, trials=3000, seed=5)
    assert 0 < p <= 1
    assert approximate_randomization(a, b, trials=3000, seed=5) == p  # same seed, same answer
    assert approximate_randomization(b, a, trials=3000, seed=5) == p  # two-sided: order does not matter


def test_approximate_randomization_matches_the_exact_permutation_test():
    # With 10 sentences all 2**10 swaps can be enumerated: the sampled p must agree with the exact one.
    a = np.array(
        [[1, 1, 2], [2, 2, 2], [0, 1, 1], [1, 1, 1], [3, 3, 4], [1, 2, 1], [0, 0, 1], [2, 2, 2], [1, 1, 1], [1, 1, 2]]
    )
    b = np.array(
        [[0, 1, 2], [2, 2, 2], [0, 1, 1], [0, 1, 1], [2, 3, 4], [1, 1, 1], [0, 1, 1], [1, 2, 2], [1, 1, 1], [0, 1, 2]]
    )
    observed = abs(micro_f1(a) - micro_f1(b))
    extreme = 0
    for swap in itertools.product([False, True], repeat=len(a)):
        swap = np.array(swap)[:, None]
        extreme += abs(micro_f1(np.where(swap, b, a)) - micro_f1(np.where(swap, a, b))) >= observed - 1e-12
    exact = extreme / 2 ** len(a)
    assert 0.01 < exact < 0.5  # a case where the answer is neither tiny nor 1
    assert approximate_randomization(a, b, trials=20_000, seed=3) == pytest.approx(exact, abs=0.02)


# ----------------------------------------------------------------------------- the experiment file

MINIMAL = {"name": "x", "data": {"format": "conll"}, "grid": [{"name": "g"}]}


def test_experiment_spec_fills_in_the_defaults():
    spec = experiment_spec(MINIMAL)
    assert (spec.name, spec.out, spec.seeds, spec.source, spec.device) == ("x", "results/x", (1, 2, 3), None, "cpu")
    assert (spec.data.format, spec.data.lang, spec.data.protocol, spec.data.folds) == ("conll", "ja", "kfold", 5)
    assert spec.grids == (GridSpec("g"),)
    assert cells_of(spec.grids) == [Cell("g", "none", "native", "native", None)]


def test_a_run_adds_its_overrides_after_the_files_own():
    spec = experiment_spec({**MINIMAL, "train": {"config": "small-data", "set": ["max_epochs=3"]}})
    run = spec.for_run(("threads=1",), "cuda")
    assert run.train.set == ("max_epochs=3", "threads=1") and run.train.config == "small-data" and run.device == "cuda"
    assert spec.train.set == ("max_epochs=3",)  # the loaded spec is unchanged


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": [1]}, "x.toml: unknown key 'seed' (known: name, out, seeds, data, source, train, grid)"),
        (
            {"data": {"format": "conll", "fold": 3}},
            "x.toml: [data]: unknown key 'fold' (known: lang, format, path, columns, token_prefix, protocol, folds, "
            "allow_empty)",
        ),
        (
            {"grid": [{"name": "g", "size": [10]}]},
            "x.toml: grid 'g': unknown key 'size' (known: name, modules, word_input, char_input, features, sizes)",
        ),
        (
            {"source": {"model": "conll03-en", "labels": "auto"}},
            "x.toml: [source]: unknown key 'labels' (known: model, label_map)",
        ),
        ({"data": {"format": "conll", "folds": "two"}}, "x.toml: [data]: folds must be an integer of at least 2"),
        ({"data": {"format": "conll", "folds": 0}}, "x.toml: [data]: folds must be an integer of at least 2"),
        ({"data": {"format": "conll", "folds": True}}, "x.toml: [data]: folds must be an integer of at least 2"),
        ({"data": {"lang": "ja"}}, "x.toml: [data]: missing 'format'"),
        ({"seeds": [1, 2**70]}, "x.toml: seeds must be a non-empty list of integers in [0, 2^32)"),
        ({"grid": [{"modules": ["none"]}]}, "x.toml: grid 1: missing 'name'"),
        ({"grid": [{"name": "g", "sizes": [-1]}]}, "x.toml: grid 'g': sizes must be a list of integers of at least 0"),
        ({"source": {"label_map": "auto"}}, "x.toml: [source]: missing 'model'"),
        ({"train": {"set": "threads=1"}}, 'x.toml: [train]: set must be a list of "key=value" strings'),
        ({"source": {"model": 42}}, "x.toml: [source]: model must be a string"),
        (
            {"grid": [{"name": "g", "module": ["char"]}]},
            "x.toml: grid 'g': unknown key 'module' (known: name, modules, word_input, char_input, features, sizes)",
        ),
        ({"data": {"format": "conll", "lang": "fr"}}, "x.toml: [data]: lang must be en or ja"),
        ({"data": {"format": "conll", "lang": []}}, "x.toml: [data]: lang must be en or ja"),
        ({"data": {"format": "conll", "protocol": {}}}, "x.toml: [data]: protocol must be kfold or split"),
        (
            {"data": {"format": ["conll"]}},
            "x.toml: [data]: format must be one of conll, spans, doccano, label-studio, hironsan, parts",
        ),
        (
            {"data": {"format": "csv"}},
            "x.toml: [data]: format must be one of conll, spans, doccano, label-studio, hironsan, parts",
        ),
        ({"data": {"format": "conll", "allow_empty": "yes"}}, "x.toml: [data]: allow_empty must be true or false"),
        (
            {"grid": [{"name": "g", "word_input": ["latin"]}]},
            "x.toml: grid 'g': word_input must be a list of native or romaji",
        ),
    ],
)
def test_experiment_spec_refuses_unknown_keys_and_wrong_values_in_one_line(change, message):
    with pytest.raises(EiwaError) as raised:
        experiment_spec({**MINIMAL, **change}, "x.toml")
    assert str(raised.value) == message


@pytest.mark.parametrize("out", ["taken", "taken/below"])
def test_an_out_that_is_or_lies_under_a_file_is_refused(tmp_path, out):
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    path = tmp_path / "x.toml"
    path.write_text(f'name = "x"\nout = "{tmp_path / out}"\n[data]\nformat = "conll"\n[[grid]]\nname = "g"\n')
    with pytest.raises(EiwaError, match=f"out '.*{out}' cannot be a folder: .*taken is a file"):
        load_experiment(path)


@pytest.mark.parametrize("out", ["taken", "taken/below"])
def test_a_spec_given_in_python_with_a_file_for_out_is_refused_when_run(tmp_path, out):
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    spec = experiment_spec({**MINIMAL, "out": str(tmp_path / out)}, "x.toml")
    with pytest.raises(EiwaError, match="cannot (be|make) the results folder"):
        run_experiment(spec, log=lambda line: None, cells=[])


# ----------------------------------------------------------------------------- cells and splits


def test_cells_of_crosses_the_grid_and_keeps_size_0_for_full_transfer_only():
    grids = [
        GridSpec(
            "g",
            modules=("none", "char", "char,word,classifier"),
            word_input=("native", "romaji"),
            char_input=("romaji",),
            sizes=(0, 10, None),
        ),
        GridSpec("plain"),
        GridSpec("again", modules=("char",), char_input=("romaji",), sizes=(10,)),
    ]
    cells = cells_of(grids)
    # 3 modules x 2 word inputs x 1 char input x 3 sizes = 18, less the 4 untrained (size 0) cells of none and
    # char; then the default cell of "plain" and the one cell of "again".
    assert len(cells) == 16
    assert Cell("g", "none", "native", "romaji", 0) not in cells
    assert Cell("g", "char", "romaji", "romaji", 0) not in cells
    assert Cell("g", "char,word,classifier", "romaji", "romaji", 0) in cells  # zero-shot
    assert cells[-2] == Cell("plain", "none", "native", "native", None)
    assert len(set(cells)) == len(cells)
    assert {c.key for c in cells if c.grid == "g" and c.modules == "char" and c.word_input == "native"} == {
        "char|native|romaji|10",
        "char|native|romaji|all",
    }
    # The same setting in two grids has one key, so it is trained once.
    assert cells[-1].key == Cell("g", "char", "native", "romaji", 10).key == "char|native|romaji|10"
    assert Cell("g", "char", "native", "romaji", 10).scratch() == Cell("g", "none", "native", "romaji", 10)


def test_split_protocol_uses_positions_8_and_9_of_every_ten():
    [(train, dev, test)] = protocol_splits("split", 25, 5)
    assert dev == [8, 18]
    assert test == [9, 19]
    assert train == [i for i in range(25) if i not in (8, 9, 18, 19)]


def test_kfold_protocol_uses_position_modulo_folds():
    splits = protocol_splits("kfold", 8, 3)
    assert [test for _, _, test in splits] == [[0, 3, 6], [1, 4, 7], [2, 5]]
    for train, dev, test in splits:
        assert dev is None and sorted(train + test) == list(range(8))
    assert len(protocol_splits("kfold", 12, experiment_spec(MINIMAL).data.folds)) == 5  # five folds by default


# ----------------------------------------------------------------------------- a tiny experiment

# A second grid whose one cell (scratch, 10 sentences) is also in the first: it must be trained only once.
SHARED_GRID = '[[grid]]\nname = "scratch"\nmodules = ["none"]\nsizes = [10]'
TRAIN_SET = [f"{k}={v}" for k, v in TINY.items() if k not in ("seed", "max_epochs")] + ["max_epochs=1", "threads=1"]


def write_spec(
    path: Path,
    out: Path,
    data: Path,
    source: Path | None,
    label_map="PER=PER,LOC=LOC",
    modules=("none", "char,word,classifier"),
    sizes=(0, 10),
    seeds=(1, 2),
    protocol="kfold",
    extra_grid: str = "",
) -> Path:
    lines = [
        'name = "tiny"',
        f"out = {json.dumps(str(out))}",
        f"seeds = {json.dumps(list(seeds))}",
        "[data]",
        'lang = "en"',
        'format = "conll"',
        f"path = {json.dumps(str(data))}",
        f'protocol = "{protocol}"',
        "folds = 2",
    ]
    if source is not None:
        lines += ["[source]", f"model = {json.dumps(str(source))}", f"label_map = {json.dumps(label_map)}"]
    lines += [
        "[train]",
        f"set = {json.dumps(TRAIN_SET)}",
        "[[grid]]",
        'name = "curve"',
        f"modules = {json.dumps(list(modules))}",
        f"sizes = {json.dumps(list(sizes))}",
        extra_grid,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def data_examples():
    # Every sentence holds a PER and a LOC, so that even a 9-sentence training part has both types
    # (an explicit label map is checked against the training part's types).
    examples = [e for e in synthetic_tagged(300, seed=4) if "B-PER" in e[1] and "B-LOC" in e[1]][:40]
    assert len(examples) == 40
    return examples


def write_data(path: Path) -> Path:
    return write_conll(path, data_examples())


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("experiment")
    data = write_data(root / "data.conll")
    spec_path = write_spec(root / "tiny.toml", root / "out", data, tiny_model_dir, extra_grid=SHARED_GRID)
    log: list[str] = []
    out = run_experiment(load_experiment(spec_path), log=log.append)
    return SimpleNamespace(root=root, data=data, out=out, spec_path=spec_path, log=log, source=tiny_model_dir)


@pytest.fixture
def copy_of(experiment, tmp_path):
    """A copy of the finished experiment's output and a spec that writes there."""
    out = tmp_path / "out"
    shutil.copytree(experiment.out, out)
    spec_path = write_spec(tmp_path / "tiny.toml", out, experiment.data, experiment.source, extra_grid=SHARED_GRID)
    return SimpleNamespace(out=out, spec_path=spec_path, spec=load_experiment(spec_path))


FULL = "char,word,classifier"
EXPECTED_KEYS = [
    f"{cell}|native|native|{size}|{seed}" for cell, size in (("none", 10), (FULL, 0), (FULL, 10)) for seed in (1, 2)
]


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "cells.jsonl").read_text(encoding="utf-8").splitlines()]


def count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def forbid_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(eiwa.training.run, "train", refuse)
    monkeypatch.setattr(eiwa.build, "starts", refuse)


def test_experiment_writes_cells_results_report_and_plot(experiment):
    out = experiment.out
    assert out == experiment.root / "out"
    assert [r["key"] for r in records(out)] == EXPECTED_KEYS  # scratch at size 0 is skipped
    assert (out / "results.json").exists() and (out / "RESULTS.md").exists()
    for grid in ("curve", "scratch"):
        assert (out / f"{grid}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Six trained (cell, seed) runs; the second grid's only cell is the first grid's scratch cell, not run again.
    # One summary line per (cell, seed), each after a line per fold (indented).
    summaries = [line for line in experiment.log if not line.startswith("  ")]
    folds = [line for line in experiment.log if line.startswith("  ")]
    assert len(summaries) == 6 and summaries[0].startswith("none|native|native|10 seed 1: P ")
    assert len(folds) == 12 and folds[0].startswith("  none|native|native|10 seed 1 fold 1/2: F1 ")


def test_experiment_records_are_consistent(experiment):
    for record in records(experiment.out):
        counts = np.asarray(record["sentence_counts"])
        assert counts.shape == (40, 3)  # every sentence is tested once over the two folds
        tp, predicted, gold = counts.sum(axis=0)
        assert (record["true_positives"], record["predicted"], record["gold"]) == (tp, predicted, gold)
        assert record["f1"] == pytest.approx(micro_f1(counts))
        assert gold == sum(tag.startswith("B-") for _, tags in data_examples() for tag in tags)
    # Zero-shot is the trained English source through PER=PER,LOC=LOC on data of its own kind: it must score.
    zero_shot = [r for r in records(experiment.out) if r["cell"] == f"{FULL}|native|native|0"]
    assert all(r["f1"] > 0.5 for r in zero_shot)


def test_experiment_report_has_a_row_per_cell_with_mean_and_std(experiment):
    by_cell: dict[str, list[float]] = {}
    for record in records(experiment.out):
        by_cell.setdefault(record["cell"], []).append(record["f1"])
    report = (experiment.out / "RESULTS.md").read_text(encoding="utf-8")
    assert report.startswith("# Experiment tiny")
    assert "(kfold, 2 folds pooled)" in report
    assert "![curve](curve.png)" in report and "![scratch](scratch.png)" in report
    curve, scratch = report.split("## curve")[1].split("## scratch")
    table_rows = [line for line in curve.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(table_rows) == 3  # one per cell of the grid
    for (cell, f1s), row in zip(by_cell.items(), table_rows):
        modules, word_input, char_input, size = cell.split("|")
        assert row.startswith(f"| {modules} | {word_input} | {char_input} | {size} | ")
        assert f"{statistics.fmean(f1s):.4f} ± {statistics.stdev(f1s):.4f}" in row
    # The shared scratch cell is reported in the second grid too, with the same numbers.
    [shared] = [line for line in scratch.splitlines() if line.startswith("| none ")]
    assert shared == table_rows[0]
    results = {
        (r["grid"], r["modules"], r["size"]): r for r in json.loads((experiment.out / "results.json").read_text())
    }
    assert set(results) == {("curve", "none", 10), ("curve", FULL, 0), ("curve", FULL, 10), ("scratch", "none", 10)}
    # Only a transfer cell with a scratch counterpart gets a difference and a p-value.
    transfer = results[("curve", FULL, 10)]
    assert transfer["difference"] == pytest.approx(transfer["f1_mean"] - results[("curve", "none", 10)]["f1_mean"])
    assert 0 < transfer["p_value"] <= 1
    assert "p_value" not in results[("curve", FULL, 0)] and "p_value" not in results[("curve", "none", 10)]


def test_workers_give_the_records_of_a_serial_run(experiment, tmp_path):
    spec_path = write_spec(
        tmp_path / "tiny.toml", tmp_path / "out", experiment.data, experiment.source, extra_grid=SHARED_GRID
    )
    log: list[str] = []
    run_experiment(load_experiment(spec_path), log=log.append, workers=2)
    assert "6 runs on 2 worker processes" in log
    serial = {r["key"]: r for r in records(experiment.out)}
    parallel = {r["key"]: r for r in records(tmp_path / "out")}
    assert parallel == serial  # same runs, same scores, same per-sentence counts (order may differ)
    assert len(records(tmp_path / "out")) == 6
    serial_rows = json.loads((experiment.out / "results.json").read_text())
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == serial_rows


def test_modules_auto_keeps_the_candidate_best_on_dev(tmp_path, tiny_model_dir):
    data = write_data(tmp_path / "data.conll")
    spec = load_experiment(
        write_spec(tmp_path / "t.toml", tmp_path / "out", data, tiny_model_dir, modules=["auto"], sizes=[10], seeds=[1])
    )
    log: list[str] = []
    run_experiment(spec, log=log.append)
    (record,) = records(tmp_path / "out")
    assert record["cell"] == "auto|native|native|10" and len(record["chosen"]) == 2  # one choice per fold
    candidates = {
        "none",
        f"char,classifier from {tiny_model_dir}",
        f"char,word,classifier from {tiny_model_dir}",
        f"word,classifier from {tiny_model_dir}",
    }
    assert set(record["chosen"]) <= candidates
    assert all(", chose " in line for line in log if " fold " in line)


def _tried(name, hits, sentences=200):
    """A trained candidate whose dev predictions are right on the first `hits` of `sentences` one-entity sentences."""
    from eiwa.training.run import _Tried

    counts = np.array([[1, 1, 1]] * hits + [[0, 1, 1]] * (sentences - hits))
    return _Tried(SimpleNamespace(seconds=1.0), name, counts, micro_f1(counts))


def test_modules_auto_keeps_the_default_unless_another_beats_it_beyond_chance():
    from eiwa.training.run import SIGNIFICANCE, _choose

    lines = []
    default, close, far = _tried("shared", 120), _tried("close", 126), _tried("far", 170)
    chosen, tests = _choose([default, close, _tried("worse", 100)], lines.append)
    assert chosen is default and tests[0] == {} and tests[1]["difference"] == pytest.approx(0.03)
    assert tests[1]["p"] > SIGNIFICANCE / 2  # six sentences of two hundred: within chance
    assert "keeps the default shared" in lines[-1] and "200 dev sentences, 200 entities" in lines[-1]
    chosen, tests = _choose([default, close, far], lines.append)
    assert chosen is far and tests[2]["p"] < SIGNIFICANCE / 2
    assert lines[-1].startswith("--modules auto chose far: dev F1 0.8500 against the default's 0.6000")


def test_train_best_reports_every_candidate_and_the_whole_run(monkeypatch):
    from eiwa.training.train import TrainResult

    class Start:
        def __init__(self, name):
            self.config = SimpleNamespace(transferred=name)
            self.meta = {"transfer": {"source": "src"}} if name else {}

    hits = {"char,word,classifier": 120, "char,classifier": 126, "": 100}
    monkeypatch.setattr(
        eiwa.training.run, "train", lambda config, train, dev, tagger, **kw: TrainResult(tagger, 0.5, 1, 2, 3.0)
    )
    monkeypatch.setattr(
        eiwa.training.run,
        "_dev_counts",
        lambda result, name, dev: replace(_tried(name, hits[result.tagger.config.transferred]), result=result),
    )
    starts = [Start(name) for name in hits]
    result = eiwa.training.run.train_best(None, [], [], starts)
    assert result.tagger is starts[0]  # +0.03 on 200 sentences is a tie: the default stays
    meta = result.tagger.meta
    assert meta["chosen"] == "char,word,classifier from src"
    assert [c["start"] for c in meta["candidates"]] == [
        "char,word,classifier from src",
        "char,classifier from src",
        "none",
    ]
    assert meta["auto"]["default"] == "char,word,classifier from src" and meta["auto"]["dev_entities"] == 200
    assert result.seconds >= 0 and all(c["seconds"] == 3.0 for c in meta["candidates"])


def test_modules_auto_is_not_for_zero_shot(tmp_path, tiny_model_dir):
    data = write_data(tmp_path / "data.conll")
    spec = load_experiment(
        write_spec(tmp_path / "t.toml", tmp_path / "out", data, tiny_model_dir, modules=["auto"], sizes=[0], seeds=[1])
    )
    spec = replace(spec, grids=(replace(spec.grids[0], modules=("auto", FULL)),))
    from eiwa.study.runner import Study

    with pytest.raises(EiwaError, match="not for size 0"):
        Study(spec).check(Cell("curve", "auto", "native", "native", 0))


def test_workers_need_a_fixed_thread_count(tmp_path, tiny_model_dir):
    data = write_data(tmp_path / "data.conll")
    spec = load_experiment(write_spec(tmp_path / "t.toml", tmp_path / "out", data, tiny_model_dir))
    without_threads = tuple(s for s in spec.train.set if not s.startswith("threads="))
    spec = replace(spec, train=replace(spec.train, set=without_threads))
    with pytest.raises(EiwaError, match="--workers needs a fixed torch thread count"):
        run_experiment(spec, log=lambda _: None, workers=2)


def test_rerun_does_not_retrain_finished_cells(copy_of, monkeypatch):
    before = (copy_of.out / "cells.jsonl").read_bytes()
    (copy_of.out / "RESULTS.md").unlink()
    forbid_training(monkeypatch)
    run_experiment(copy_of.spec, log=lambda _: None)
    assert (copy_of.out / "cells.jsonl").read_bytes() == before
    assert (copy_of.out / "RESULTS.md").exists()  # the report is still written


def test_rerun_after_losing_the_last_line_retrains_exactly_that_run(copy_of, monkeypatch):
    path = copy_of.out / "cells.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")
    calls = count_calls(monkeypatch, eiwa.training.run, "train")
    run_experiment(copy_of.spec, log=lambda _: None)
    # The lost run is (full transfer, size 10, seed 2): one training per fold, all with seed 2, from a
    # transferred tagger.
    assert len(calls) == 2
    assert all(args[0].seed == 2 and kwargs["tagger"].config.transferred == FULL for args, kwargs in calls)
    redone = records(copy_of.out)
    assert [r["key"] for r in redone] == EXPECTED_KEYS
    assert redone[-1] == json.loads(lines[-1])  # training is repeatable: the same scores again


def test_truncated_last_line_is_tolerated(copy_of, monkeypatch):
    path = copy_of.out / "cells.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:40], encoding="utf-8")  # cut off mid-record
    assert len(read_finished(path)) == 5
    calls = count_calls(monkeypatch, eiwa.training.run, "train")
    run_experiment(copy_of.spec, log=lambda _: None)
    assert len(calls) == 2  # only the cut-off run is trained again
    results = json.loads((copy_of.out / "results.json").read_text())
    assert sorted(r["seeds"] for r in results) == [[1, 2]] * 4  # and the report has every run


def test_after_a_truncated_line_is_redone_everything_is_finished(copy_of, monkeypatch):
    path = copy_of.out / "cells.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:40], encoding="utf-8")
    run_experiment(copy_of.spec, log=lambda _: None)
    assert set(read_finished(path)) == set(EXPECTED_KEYS)


def test_explicit_label_map_survives_a_small_training_part(tmp_path, tiny_model_dir):
    # ORG occurs in the data, but not among the first sentences of either fold's training part.
    plain = [e for e in synthetic_tagged(300, seed=4) if "B-PER" in e[1] and "B-LOC" in e[1] and "B-ORG" not in e[1]]
    with_org = [e for e in synthetic_tagged(300, seed=4) if "B-ORG" in e[1]]
    data = write_conll(tmp_path / "data.conll", plain[:24] + with_org[:6])
    spec = load_experiment(
        write_spec(
            tmp_path / "t.toml",
            tmp_path / "out",
            data,
            tiny_model_dir,
            label_map="PER=PER,LOC=LOC,ORG=ORG",
            modules=["classifier"],
            sizes=[10],
            seeds=[1],
        )
    )
    run_experiment(spec, log=lambda _: None)
    assert len(records(tmp_path / "out")) == 1


def test_zero_shot_needs_an_explicit_label_map(tmp_path, tiny_model_dir):
    data = write_data(tmp_path / "data.conll")
    spec = load_experiment(
        write_spec(
            tmp_path / "t.toml",
            tmp_path / "out",
            data,
            tiny_model_dir,
            label_map="auto",
            modules=[FULL],
            sizes=[0],
            seeds=[1],
        )
    )
    with pytest.raises(EiwaError, match="zero-shot"):
        run_experiment(spec, log=lambda _: None)


def test_transfer_cells_need_a_source(tmp_path):
    data = write_data(tmp_path / "data.conll")
    spec = load_experiment(write_spec(tmp_path / "t.toml", tmp_path / "out", data, None, modules=["char"], sizes=[10]))
    with pytest.raises(EiwaError, match="no \\[source\\]"):
        run_experiment(spec, log=lambda _: None)


# ----------------------------------------------------------------------------- the command


@pytest.fixture
def runner():
    return CliRunner()


def test_cli_report_only_rewrites_the_report_without_training(runner, copy_of, monkeypatch):
    original = (copy_of.out / "RESULTS.md").read_text(encoding="utf-8")
    for name in ("RESULTS.md", "results.json", "curve.png", "scratch.png"):
        (copy_of.out / name).unlink()
    forbid_training(monkeypatch)
    result = runner.invoke(cli, ["experiment", str(copy_of.spec_path), "--report-only"])
    assert result.exit_code == 0, result.output
    assert (copy_of.out / "RESULTS.md").read_text(encoding="utf-8") == original
    assert (copy_of.out / "curve.png").exists() and (copy_of.out / "results.json").exists()
    assert str(copy_of.out / "RESULTS.md") in result.stdout


def test_cli_report_only_before_any_run(runner, tmp_path, tiny_model_dir):
    spec_path = write_spec(tmp_path / "t.toml", tmp_path / "never-run", tmp_path / "data.conll", tiny_model_dir)
    result = runner.invoke(cli, ["experiment", str(spec_path), "--report-only"])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "no such experiment file"),
        ("name = \n", "invalid TOML"),
        ('name = "x"\n[data]\nformat = "conll"\n', "missing 'grid'"),
        ('name = "x"\n[data]\nprotocol = "random"\n[[grid]]\nname = "g"\n', "protocol must be kfold or split"),
        (
            'name = "x"\nseed = 1\n[data]\nformat = "conll"\n[[grid]]\nname = "g"\n',
            "unknown key 'seed' (known: name, out, seeds, data, source, train, grid)",
        ),
        (
            'name = "x"\n[data]\nformat = "conll"\nfolds = "two"\n[[grid]]\nname = "g"\n',
            "folds must be an integer of at least 2",
        ),
        (
            'name = "x"\n[data]\nformat = "conll"\nfolds = 0\n[[grid]]\nname = "g"\n',
            "folds must be an integer of at least 2",
        ),
    ],
)
def test_cli_experiment_bad_file_exits_2_naming_it(runner, tmp_path, content, fragment):
    path = tmp_path / "spec.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = runner.invoke(cli, ["experiment", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"eiwa: error: {path}: ") and fragment in message


def test_select_cells_filters_by_grid_modules_and_size(tmp_path, tiny_model_dir):
    spec = load_experiment(
        write_spec(tmp_path / "t.toml", tmp_path / "out", tmp_path / "d.conll", tiny_model_dir, extra_grid=SHARED_GRID)
    )
    cells = cells_of(spec.grids)
    assert [c.key for c in select_cells(cells)] == [c.key for c in cells]
    selected = select_cells(cells, grids=["curve"], sizes=["0"])
    assert {(c.grid, c.modules, c.size) for c in selected} == {("curve", FULL, 0)}
    assert {c.grid for c in select_cells(cells, modules=["none"])} == {"curve", "scratch"}
    with pytest.raises(EiwaError, match="no size 5 in this experiment"):
        select_cells(cells, sizes=["5"])


def test_cli_experiment_runs_only_the_selected_cells(runner, copy_of, monkeypatch):
    # Drop one finished cell; a run limited to another cell must not bring it back.
    kept = [r for r in records(copy_of.out) if r["key"] != "none|native|native|10|2"]
    (copy_of.out / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    forbid_training(monkeypatch)  # every selected cell is already finished
    result = runner.invoke(
        cli, ["experiment", str(copy_of.spec_path), "--grid", "curve", "--modules", FULL, "--set", "threads=1"]
    )
    assert result.exit_code == 0, result.output
    assert "none|native|native|10|2" not in {r["key"] for r in records(copy_of.out)}
    result = runner.invoke(cli, ["experiment", str(copy_of.spec_path), "--grid", "nope"])
    assert result.exit_code == 2 and "no grid nope in this experiment" in result.stderr


def test_a_curve_size_covering_every_training_part_reuses_the_full_size_record(tmp_path, monkeypatch):
    # 40 sentences in 2 folds: each training part holds 20, so size 25 trains exactly what no size does.
    data = write_data(tmp_path / "data.conll")
    spec = load_experiment(
        write_spec(
            tmp_path / "t.toml",
            tmp_path / "out",
            data,
            None,
            modules=["none"],
            sizes=[25, 19],
            seeds=[1],
            extra_grid='[[grid]]\nname = "full"\nmodules = ["none"]',
        )
    )
    size_25, size_19, whole = cells_of(spec.grids)
    assert (size_25.size, size_19.size, whole.size) == (25, 19, None)
    run_experiment(spec, log=lambda _: None, cells=[whole])
    forbid_training(monkeypatch)
    log: list[str] = []
    run_experiment(spec, log=log.append, cells=[size_25])
    assert log == ["none|native|native|25 seed 1: the whole training set, as none|native|native|all|1"]
    by_key = {r["key"]: r for r in records(tmp_path / "out")}
    reused, original = by_key["none|native|native|25|1"], by_key["none|native|native|all|1"]
    assert reused["cell"] == "none|native|native|25"
    assert {k: v for k, v in reused.items() if k not in ("key", "cell")} == {
        k: v for k, v in original.items() if k not in ("key", "cell")
    }
    with pytest.raises(AssertionError, match="trained again"):  # 19 < 20 sentences: a model of its own
        run_experiment(spec, log=lambda _: None, cells=[size_19])


def test_transfer_with_n_is_compared_with_scratch_at_the_smallest_size_of_at_least_2n(tmp_path):
    spec = experiment_spec(
        {
            "name": "t",
            "seeds": [1, 2],
            "data": {"format": "conll", "protocol": "split"},
            "grid": [{"name": "curve", "modules": ["none", "char"], "sizes": [100, 250, 400, 500]}],
        }
    )
    rng = np.random.default_rng(0)
    finished = {}
    for cell in cells_of(spec.grids):
        for seed in (1, 2):
            counts = rng.integers(0, 3, size=(30, 3))
            counts[:, 0] = np.minimum(counts[:, 0], counts[:, 1:].min(axis=1))
            finished[f"{cell.key}|{seed}"] = {
                "f1": micro_f1(counts),
                "precision": 0.5,
                "recall": 0.5,
                "seed": seed,
                "sentence_counts": counts.tolist(),
            }
    rows = {(r["modules"], r["size"]): r for r in summarise(spec, finished)}
    # 100 -> 250 (the smallest of at least 200), 250 -> 500; 400 and 500 have no scratch row of twice their size.
    assert rows[("char", 100)]["double_size"] == 250 and rows[("char", 250)]["double_size"] == 500
    assert "double_size" not in rows[("char", 400)] and "double_size" not in rows[("char", 500)]
    assert all("double_size" not in rows[("none", size)] for size in (100, 250, 400, 500))
    row = rows[("char", 100)]
    assert row["double_f1_mean"] == pytest.approx(rows[("none", 250)]["f1_mean"])
    assert row["double_difference"] == pytest.approx(row["f1_mean"] - row["double_f1_mean"])
    assert 0 < row["double_p_value"] <= 1
    write_report(spec, finished, tmp_path)
    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "Transfer with N sentences against scratch with at least 2N" in report
    assert f"| char | native | native | 100 | {row['f1_mean']:.4f} | 250 | {row['double_f1_mean']:.4f} | " in report


def test_zero_shot_cells_transfer_the_classifier_and_every_feature():
    from eiwa.study.grid import _zero_shot

    assert _zero_shot("char,word,classifier", None) and not _zero_shot("char,classifier", None)
    assert _zero_shot("char,word,pos,gazetteer,classifier", "char,word,pos,gazetteer")
    assert not _zero_shot("char,word,pos,gazetteer,classifier", "char,word,pos,vectors,gazetteer")  # fresh vectors
    assert not _zero_shot("char,word,pos,gazetteer", "char,word,pos,gazetteer")  # no classifier


def test_ray_without_ray_installed_says_how_to_get_it(tmp_path, tiny_model_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    spec = load_experiment(
        write_spec(tmp_path / "t.toml", tmp_path / "out", write_data(tmp_path / "data.conll"), tiny_model_dir)
    )
    with pytest.raises(EiwaError, match=r"--ray needs Ray: pip install 'eiwa\[ray\]'"):
        run_experiment(spec, log=lambda _: None, ray_address="local")
    cells = tmp_path / "out" / "cells.jsonl"
    assert not cells.exists() or not cells.read_text()  # nothing ran
