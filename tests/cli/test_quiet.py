"""`--quiet` on every command that trains: stdout holds only the result, stderr only warnings (the
max_epochs warning: the tiny settings stop at 1 epoch, before early stopping could) and errors."""

from __future__ import annotations

import json

import pytest
from helpers import TINY, TINY_SET, synthetic_tagged, write_conll

from eiwa.cli import cli

ONE_EPOCH = [*TINY_SET, "--set", "max_epochs=1"]
CAP_WARNING = "warning: training stopped at max_epochs 1 before early stopping could end it"


@pytest.fixture
def data(tmp_path):
    examples = [e for e in synthetic_tagged(200, seed=4) if "B-PER" in e[1] and "B-LOC" in e[1]][:24]
    return write_conll(tmp_path / "data.conll", examples)


def assert_only_warnings(stderr: str) -> list[str]:
    """Every line on stderr is a warning, and at least one is the max_epochs warning."""
    lines = stderr.splitlines()
    assert lines and all(line.startswith("warning: ") for line in lines), stderr
    assert any(line.startswith(CAP_WARNING) for line in lines), stderr
    return lines


def test_train_and_transfer_quiet_print_the_result_line_alone(runner, tmp_path, data, tiny_model_dir):
    for command, extra in (
        ("train", []),
        ("transfer", ["--lang", "en", "--source", str(tiny_model_dir), "--modules", "char,classifier"]),
    ):
        out = tmp_path / command
        result = runner.invoke(cli, [command, "--train", str(data), "--out", str(out), "--quiet", *extra, *ONE_EPOCH])
        assert result.exit_code == 0, result.output
        assert (
            result.stdout.splitlines()
            == [line for line in result.stdout.splitlines() if line.startswith("best dev F1 ")]
            and len(result.stdout.splitlines()) == 1
        ), result.stdout
        assert_only_warnings(result.stderr)
        meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
        assert meta["training"]["warnings"][0].startswith(CAP_WARNING.removeprefix("warning: "))


def test_train_without_quiet_still_logs_settings_and_epochs(runner, tmp_path, data):
    result = runner.invoke(cli, ["train", "--train", str(data), "--out", str(tmp_path / "m"), *ONE_EPOCH])
    assert result.exit_code == 0, result.output
    assert "config:" in result.stderr and "epoch   1 " in result.stderr and CAP_WARNING in result.stderr
    assert result.stdout.startswith("best dev F1 ")


def test_train_quiet_still_reports_errors(runner, tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("John B-PER\nlives O extra\n", encoding="utf-8")
    result = runner.invoke(cli, ["train", "--train", str(bad), "--out", str(tmp_path / "m"), "--quiet"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"eiwa: error: {bad}:2:")


def test_cv_quiet_prints_the_scores_alone(runner, data):
    result = runner.invoke(cli, ["cv", "--data", str(data), "--folds", "2", "--seeds", "1", "--quiet", *ONE_EPOCH])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("seed 1: P ") and lines[1].startswith("F1 "), result.stdout
    assert len(assert_only_warnings(result.stderr)) == 2  # one per fold


def test_experiment_quiet_prints_the_report_path_alone(runner, tmp_path, data):
    settings = [f"{k}={v}" for k, v in TINY.items() if k not in ("seed", "max_epochs")] + ["max_epochs=1"]
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        "\n".join(
            [
                'name = "tiny"',
                f"out = {json.dumps(str(tmp_path / 'out'))}",
                "seeds = [1]",
                "[data]",
                f'lang = "en"\nformat = "conll"\npath = {json.dumps(str(data))}\nprotocol = "kfold"\nfolds = 2',
                "[train]",
                f"set = {json.dumps(settings)}",
                "[[grid]]",
                'name = "scratch"\nmodules = ["none"]\nsizes = [10]',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["experiment", str(spec), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"report: {tmp_path / 'out' / 'RESULTS.md'}\n"
    assert_only_warnings(result.stderr)


def test_quickstart_quiet_prints_the_table_and_the_example_alone(runner, tmp_path, tiny_model_dir):
    result = runner.invoke(
        cli,
        [
            "quickstart",
            "--source",
            str(tiny_model_dir),
            "--out",
            str(tmp_path / "quick"),
            "--modules",
            "classifier,char",
            "--label-map",
            "PER=PSN,LOC=LOC,ORG=ORG",
            "--config",
            "small-data",
            "--quiet",
            *ONE_EPOCH,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "from scratch" in result.stdout and "difference" in result.stdout
    assert "epoch" not in result.stdout and "Hironsan corpus:" not in result.stdout
    json.loads(result.stdout.strip().splitlines()[-1])  # the tagged example
    lines = assert_only_warnings(result.stderr)
    # Both arms stopped at the cap, and the comparison says what that means.
    assert sum("arm stopped at max_epochs" in line for line in lines) == 2
