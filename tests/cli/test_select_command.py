"""`eiwa select`: the chosen texts of a pool, pre-annotated, and what it says about them."""

from __future__ import annotations

import json

import pytest
from helpers import assert_user_error

from eiwa.cli import cli
from eiwa.readers.spans import read_doccano_records

POOL = [
    "John Smith lives in Paris.",
    "Blorp Qwerty went to Zorg.",
    "Nothing happened today.",
    "Qwerty zxcv blorp in Fnord.",
    "",
    "Mary works for Sony in Tokyo. Tom lives in Osaka.",
]


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "pool.txt"
    path.write_text("\n".join(POOL) + "\n", encoding="utf-8")
    return path


def test_select_writes_label_studio_tasks_and_says_what_it_chose(runner, tiny_model_dir, pool, tmp_path):
    out = tmp_path / "round1.json"
    result = runner.invoke(cli, ["select", str(tiny_model_dir), "--pool", str(pool), "--n", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 3 and tasks[0]["data"]["text"] == "Blorp Qwerty went to Zorg."
    scores = [task["predictions"][0]["score"] for task in tasks]
    assert all(0 <= score <= 1 for score in scores) and scores[0] == min(scores)  # least confident first
    assert "chose 3 of the 6 texts left in a pool of 6 (uncertainty); mean uncertainty" in result.stderr


def test_exclude_takes_an_earlier_round_out_and_random_draws_the_rest(runner, tiny_model_dir, pool, tmp_path):
    first, second = tmp_path / "round1.jsonl", tmp_path / "round2.jsonl"
    common = ["select", str(tiny_model_dir), "--pool", str(pool), "--output-format", "doccano"]
    assert runner.invoke(cli, [*common, "--n", "2", "--out", str(first)]).exit_code == 0
    result = runner.invoke(
        cli, [*common, "--n", "9", "--out", str(second), "--exclude", str(first), "--strategy", "random"]
    )
    assert result.exit_code == 0, result.output
    texts = [text for text, _, _ in read_doccano_records(first) + read_doccano_records(second)]
    assert sorted(texts) == sorted(POOL)
    assert "chose 4 of the 4 texts left in a pool of 6 (random)" in result.stderr


def test_jsonl_output_carries_the_uncertainty(runner, tiny_model_dir, pool, tmp_path):
    out = tmp_path / "chosen.jsonl"
    args = [
        "select",
        str(tiny_model_dir),
        "--pool",
        str(pool),
        "--n",
        "6",
        "--out",
        str(out),
        "--output-format",
        "jsonl",
    ]
    assert runner.invoke(cli, args).exit_code == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[-1]["text"] == "" and records[-1]["uncertainty"] is None  # no tokens: last, unscored
    assert all(0 <= r["uncertainty"] <= 1 for r in records[:-1])


def test_bad_inputs_are_one_line_errors_and_write_nothing(runner, tiny_model_dir, pool, tmp_path):
    out = tmp_path / "out.json"
    base = ["select", str(tiny_model_dir), "--out", str(out)]
    assert_user_error(runner.invoke(cli, [*base, "--pool", str(pool), "--n", "0"]), "--n must be at least 1")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    result = runner.invoke(cli, [*base, "--pool", str(bad), "--n", "1", "--input-format", "jsonl"])
    assert_user_error(result, f"{bad}:2:", "invalid JSON")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert_user_error(runner.invoke(cli, [*base, "--pool", str(empty), "--n", "1"]), str(empty), "no texts")
    assert not out.exists()
