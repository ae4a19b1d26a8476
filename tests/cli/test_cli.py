"""Tests for the `eiwa` command line (click's CliRunner): errors, help, cv, predict, info."""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
import statistics

import pytest
from helpers import TINY_SET, assert_user_error, synthetic_tagged, write_conll

import eiwa.cli
from eiwa.cli import COMMAND_MODULES, cli

COMMANDS = ["train", "evaluate", "predict", "cv", "info", "quickstart"]


@pytest.fixture
def bad_conll(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("John B-PER\nlives O\n\nMary B-PER\nis O X\n", encoding="utf-8")  # line 5 has 3 columns
    return path


def test_malformed_training_file_exits_2_naming_file_and_line(runner, bad_conll, tmp_path):
    result = runner.invoke(cli, ["train", "--train", str(bad_conll), "--out", str(tmp_path / "m"), *TINY_SET])
    assert_user_error(result, f"{bad_conll}:5:", "columns")
    assert not (tmp_path / "m").exists()


def test_malformed_file_in_evaluate_and_predict(runner, bad_conll, tiny_model_dir):
    result = runner.invoke(cli, ["evaluate", str(tiny_model_dir), "--data", str(bad_conll)])
    assert_user_error(result, f"{bad_conll}:5:")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(bad_conll), "--format", "conll"])
    assert_user_error(result, f"{bad_conll}:5:")


def test_bad_tag_and_bad_json_lines_are_reported(runner, tmp_path, tiny_model_dir):
    tags = tmp_path / "tags.conll"
    tags.write_text("John B-PER\n\nMary B_PER\n", encoding="utf-8")
    result = runner.invoke(cli, ["evaluate", str(tiny_model_dir), "--data", str(tags)])
    assert_user_error(result, f"{tags}:3:", "B_PER")
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(lines), "--format", "jsonl"])
    assert_user_error(result, f"{lines}:2:", "invalid JSON")


def test_missing_files_exit_2(runner, tmp_path, tiny_model_dir):
    missing = tmp_path / "missing.conll"
    result = runner.invoke(cli, ["train", "--train", str(missing), "--out", str(tmp_path / "m")])
    assert_user_error(result, str(missing), "no such file")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(missing)])
    assert_user_error(result, str(missing))
    result = runner.invoke(cli, ["evaluate", str(tmp_path / "no-model"), "--data", str(missing)])
    assert_user_error(result, "no-model")
    result = runner.invoke(
        cli, ["train", "--train", str(missing), "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "m")]
    )
    assert_user_error(result, "c.toml")


def test_train_refuses_to_overwrite_a_model(runner, tiny_model_dir, tmp_path):
    out = tmp_path / "existing"
    shutil.copytree(tiny_model_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    data = write_conll(tmp_path / "train.conll", synthetic_tagged(20))
    result = runner.invoke(cli, ["train", "--train", str(data), "--out", str(out), *TINY_SET])
    assert_user_error(result, str(out), "--force", "--resume")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_train_force_overwrites_a_model(runner, tiny_model_dir, tmp_path):
    out = tmp_path / "existing"
    shutil.copytree(tiny_model_dir, out)
    before = json.loads((out / "meta.json").read_text())
    data = write_conll(tmp_path / "train.conll", synthetic_tagged(30, seed=5))
    result = runner.invoke(
        cli,
        ["train", "--train", str(data), "--out", str(out), "--force", "--quiet", *TINY_SET, "--set", "max_epochs=1"],
    )
    assert result.exit_code == 0, result.output
    after = json.loads((out / "meta.json").read_text())
    assert after["training"] != before["training"] and after["training"]["epochs"] == 1


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--set", "hidden=3"], "unknown setting"),
        (["--set", "hidden_dim=x"], "integer"),
        (["--columns", "word,tag"], "token"),
    ],
)
def test_bad_settings_exit_2(runner, tmp_path, arguments, fragment):
    data = write_conll(tmp_path / "train.conll", synthetic_tagged(10))
    result = runner.invoke(cli, ["train", "--train", str(data), "--out", str(tmp_path / "m"), *arguments])
    assert_user_error(result, fragment)


def test_training_data_without_entities_is_a_user_error(runner, tmp_path):
    data = tmp_path / "train.conll"
    data.write_text("a O\nb O\n\nc O\n" * 5, encoding="utf-8")
    result = runner.invoke(cli, ["train", "--train", str(data), "--out", str(tmp_path / "m")])
    assert_user_error(result, "no entities")


# Every registered command, so that commands added later are covered too.
@pytest.mark.parametrize("command", cli.list_commands(None))
def test_help_of_each_command_shows_examples(runner, command):
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples" in result.stdout
    assert f"eiwa {command}" in result.stdout  # the examples are commands to copy


def test_every_command_is_listed_with_its_module():
    """Commands load on first use (COMMAND_MODULES): a command missing there could not be run."""
    for module in pkgutil.iter_modules(eiwa.cli.__path__, "eiwa.cli."):
        importlib.import_module(module.name)
    assert sorted(cli.commands) == sorted(COMMAND_MODULES)
    for name, command in cli.commands.items():
        assert command.callback.__module__ == f"eiwa.cli.{COMMAND_MODULES[name]}"


def test_help_of_info_and_quickstart_exits_0(runner):
    for command in ("info", "quickstart"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.stdout, result.output


def test_top_level_help_and_version(runner):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout
    result = runner.invoke(cli, ["-h"])
    assert result.exit_code == 0
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and "0.3.0" in result.stdout


def test_cv_json_on_a_small_synthetic_dataset(runner, tmp_path):
    data = write_conll(tmp_path / "small.conll", synthetic_tagged(20, seed=7), docstart=True)
    result = runner.invoke(
        cli,
        [
            "cv",
            "--data",
            str(data),
            "--folds",
            "2",
            "--seeds",
            "1,2",
            "--json",
            *TINY_SET,
            "--out",
            str(tmp_path / "cv.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout is the JSON object alone; progress goes to stderr
    assert summary["folds"] == 2 and summary["seeds"] == [1, 2]
    assert [entry["seed"] for entry in summary["per_seed"]] == [1, 2]
    f1s = []
    for entry in summary["per_seed"]:
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= entry[key] <= 1.0
        # pooled over both folds: every gold entity of the 20 sentences was scored once
        assert entry["gold"] == sum(sum(t.startswith("B-") for t in tags) for _, tags in synthetic_tagged(20, seed=7))
        f1s.append(entry["f1"])
    assert summary["f1_mean"] == pytest.approx(statistics.fmean(f1s))
    assert summary["f1_std"] == pytest.approx(statistics.stdev(f1s))
    assert json.loads((tmp_path / "cv.json").read_text()) == summary
    assert "seed 1 fold 1/2" in result.stderr


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--seeds", "1,x"], "--seeds"),
        (["--folds", "50"], "--folds"),
        (["--seeds", f"1,{2**70}"], f"--seeds must be in [0, 2^32), got {2**70}"),
        (["--seeds", "-1"], "--seeds must be in [0, 2^32), got -1"),
    ],
)
def test_cv_bad_arguments_exit_2(runner, tmp_path, arguments, fragment):
    data = write_conll(tmp_path / "small.conll", synthetic_tagged(10))
    result = runner.invoke(cli, ["cv", "--data", str(data), *arguments])
    assert_user_error(result, fragment)


@pytest.mark.parametrize("command", ["train", "split", "quickstart"])
@pytest.mark.parametrize("seed", [str(2**70), "-1"])
def test_every_seed_option_is_range_checked_before_any_work(runner, command, seed):
    result = runner.invoke(cli, [command, "--seed", seed])
    assert result.exit_code == 2
    assert "--seed" in result.output and "0<=x<=4294967295" in result.output


# ----------------------------------------------------------------------------- predict


def read_jsonl(text):
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        assert set(record) - {"id", "meta"} == {"text", "entities", "sentences"}
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
    return records


def test_predict_from_txt_input(runner, tiny_model_dir, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("John Smith lives in Paris .\nMary works for Sony in Tokyo .\n", encoding="utf-8")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(path)])
    assert result.exit_code == 0, result.output
    records = read_jsonl(result.stdout)
    assert [r["text"] for r in records] == ["John Smith lives in Paris .", "Mary works for Sony in Tokyo ."]
    assert any(r["entities"] for r in records)


def test_predict_from_conll_input_uses_the_token_column(runner, tiny_model_dir, tmp_path):
    path = write_conll(tmp_path / "in.conll", synthetic_tagged(3, seed=8), docstart=True)
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(path), "--format", "conll"])
    assert result.exit_code == 0, result.output
    records = read_jsonl(result.stdout)
    assert [r["text"] for r in records] == [" ".join(tokens) for tokens, _ in synthetic_tagged(3, seed=8)]


def test_predict_from_jsonl_input_to_output_file(runner, tiny_model_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    texts = ["Anna Lee lives in Berlin .", "Nothing happened today ."]
    path.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = runner.invoke(
        cli, ["predict", str(tiny_model_dir), "--input", str(path), "--format", "jsonl", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the results went to the file
    assert "wrote 2 results" in result.stderr
    records = read_jsonl(output.read_text(encoding="utf-8"))
    assert [r["text"] for r in records] == texts and [r["id"] for r in records] == [0, 1]  # ids passed through


def test_predict_text_arguments_match_the_python_api(runner, tiny_model_dir):
    import eiwa

    texts = ["John Smith lives in Paris .", "Reuters said so ."]
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), *texts])
    assert result.exit_code == 0, result.output
    assert read_jsonl(result.stdout) == eiwa.load(tiny_model_dir).predict(texts)


def test_predict_needs_exactly_one_source(runner, tiny_model_dir, tmp_path):
    result = runner.invoke(cli, ["predict", str(tiny_model_dir)])
    assert_user_error(result, "nothing to tag")
    path = tmp_path / "in.txt"
    path.write_text("a\n", encoding="utf-8")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "text", "--input", str(path)])
    assert_user_error(result, "not both")


# ----------------------------------------------------------------------------- info


def test_info_lists_builtin_models(runner):
    result = runner.invoke(cli, ["info"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("built-in models: ")


def test_info_of_a_model_prints_meta_and_config(runner, tiny_model_dir):
    result = runner.invoke(cli, ["info", str(tiny_model_dir), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["meta"]["format"] == "eiwa-model"
    assert shown["config"]["hidden_dim"] == 8


# ----------------------------------------------------------------------------- edge cases


def test_dev_fraction_zero_without_dev_is_a_user_error(runner, tmp_path):
    data = write_conll(tmp_path / "train.conll", synthetic_tagged(20))
    result = runner.invoke(
        cli, ["train", "--train", str(data), "--out", str(tmp_path / "m"), "--set", "dev_fraction=0", *TINY_SET]
    )
    assert_user_error(result, "dev")


def test_overlapping_entities_in_spans_training_data_do_not_crash(runner, tmp_path):
    record = {
        "text": "John Smith lives in Paris .",
        "entities": [{"start": 0, "end": 10, "type": "PER"}, {"start": 5, "end": 10, "type": "PER"}],
    }
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for _ in range(12)), encoding="utf-8")
    result = runner.invoke(
        cli,
        [
            "train",
            "--format",
            "spans",
            "--train",
            str(path),
            "--out",
            str(tmp_path / "m"),
            "--quiet",
            *TINY_SET,
            "--set",
            "max_epochs=1",
        ],
    )
    # Flat tags cannot nest entities: the overlapping one is left out of training, not a crash.
    assert result.exit_code == 0, result.output
    if result.exit_code == 2:
        assert_user_error(result, str(path))


def test_quickstart_compares_transfer_with_scratch_and_saves_the_model(runner, tmp_path, tiny_model_dir):
    # The main job, with a tiny English source and one epoch so that it runs in seconds.
    out = tmp_path / "quick"
    result = runner.invoke(
        cli,
        [
            "quickstart",
            "--source",
            str(tiny_model_dir),
            "--out",
            str(out),
            "--label-map",
            "PER=PSN,LOC=LOC,ORG=ORG",
            *TINY_SET,
            "--set",
            "max_epochs=1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "from scratch" in result.stdout and "transfer from" in result.stdout and "difference" in result.stdout
    assert "One fold and one seed" in result.stderr and "eiwa cv" in result.stderr  # points to the real comparison
    example = json.loads(result.stdout.strip().splitlines()[-1])  # the tagged example sentence
    assert example["text"].startswith("2019年") and isinstance(example["entities"], list)
    assert (out / "meta.json").exists()
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    # the default: every module the source shares with the recipe (the tiny source has char and word)
    assert meta["transfer"]["modules"] == ["char", "word", "classifier"]
    assert "--modules char,word,classifier --label-map PER=PSN,LOC=LOC,ORG=ORG (and without" in result.stderr
    assert meta["transfer"]["bridge"]["variant"] == "jmdict"  # ja-small's word bridge
    assert meta["labels"]["PER"].startswith("percent")  # Hironsan's, not the English source's person
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["features"] == "char,word,pos,vectors,gazetteer"  # the ja-small recipe
    assert config["new_rows"] == "unknown" and config["word_bridge"] == "jmdict"


def test_quickstart_with_the_classifier_follows_the_label_map(runner, tmp_path, tiny_model_dir):
    out = tmp_path / "quick"
    result = runner.invoke(
        cli,
        [
            "quickstart",
            "--source",
            str(tiny_model_dir),
            "--out",
            str(out),
            "--modules",
            "classifier,char",
            "--label-map",
            "PER=PSN,LOC=LOC,ORG=ORG",
            "--config",
            "small-data",
            *TINY_SET,
            "--set",
            "max_epochs=1",
        ],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["transfer"]["modules"] == ["char", "classifier"]
    assert meta["transfer"]["label_map"]["PER"] == ["PSN"]
    assert "--modules char,classifier --label-map PER=PSN,LOC=LOC,ORG=ORG (and without" in result.stderr


def test_quickstart_needs_a_module_to_transfer(runner, tmp_path):
    for modules, message in (
        ("none", "at least one module"),
        ("char,tagger", "subset of char,word,pos,vectors,gazetteer,chartype,classifier"),
    ):
        result = runner.invoke(cli, ["quickstart", "--out", str(tmp_path / "q"), "--modules", modules])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert not (tmp_path / "q").exists()


def test_train_refuses_to_start_over_on_an_interrupted_run(runner, tmp_path):
    # A checkpoint in the model directory means an interrupted run: starting over needs --force.
    out = tmp_path / "m"
    out.mkdir()
    (out / "checkpoint.safetensors").write_text("{}", encoding="utf-8")
    data = write_conll(tmp_path / "train.conll", synthetic_tagged(20))
    result = runner.invoke(cli, ["train", "--train", str(data), "--out", str(out), *TINY_SET])
    assert_user_error(result, "--resume")
    assert (out / "checkpoint.safetensors").read_text(encoding="utf-8") == "{}"


def test_predict_min_confidence_filters_entities(runner, tiny_model_dir):
    text = "John Smith lives in Paris and works for Acme Corp"
    every = json.loads(runner.invoke(cli, ["predict", str(tiny_model_dir), text]).stdout)["entities"]
    assert every and all(0 < e["confidence"] <= 1 for e in every)
    cut = sorted(e["confidence"] for e in every)[len(every) // 2]
    kept = json.loads(runner.invoke(cli, ["predict", str(tiny_model_dir), text, "--min-confidence", str(cut)]).stdout)
    assert kept["entities"] == [e for e in every if e["confidence"] >= cut]
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), text, "--min-confidence", "1.5"])
    assert result.exit_code == 2 and "min-confidence" in result.output


def test_predict_output_formats_stdin_and_passthrough(runner, tiny_model_dir, tmp_path):
    text = "John Smith lives in Paris"
    expected = json.loads(runner.invoke(cli, ["predict", str(tiny_model_dir), text]).stdout)
    assert expected["entities"]
    # stdin, JSONL with id and meta passed through
    line = json.dumps({"id": "doc-7", "meta": {"source": "x"}, "text": text}) + "\n"
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", "-", "--format", "jsonl"], input=line)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"id": "doc-7", "meta": {"source": "x"}, **expected}
    # CoNLL: a token and its IOB2 tag a line
    conll = runner.invoke(cli, ["predict", str(tiny_model_dir), text, "--output-format", "conll"]).stdout
    rows = [row.split("\t") for row in conll.strip().splitlines()]
    assert rows[:2] == [["-DOCSTART-", "O"], [""]]
    rows = rows[2:]
    assert [token for token, _ in rows] == text.split()
    for entity in expected["entities"]:
        first = len(text[: entity["start"]].split())
        assert rows[first][1] == "B-" + entity["type"]
    # HTML: a standalone page with one highlighted mark per entity, file written whole
    page = tmp_path / "out" / "entities.html"
    result = runner.invoke(
        cli,
        ["predict", str(tiny_model_dir), "--input", "-", "--output-format", "html", "--output", str(page)],
        input=text + "\n",
    )
    assert result.exit_code == 0, result.output
    document = page.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>") and document.rstrip().endswith("</html>")
    assert document.count('<mark class="entity"') == len(expected["entities"])
    assert f'data-type="{expected["entities"][0]["type"]}"' in document
    assert not [p for p in page.parent.iterdir() if p.name.endswith(".tmp")]


def test_predict_names_the_line_of_a_bad_byte(runner, tiny_model_dir, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"John lives here\nbad \xff byte\n")
    assert_user_error(runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(path)]), f"{path}:2", "UTF-8")
