"""Messages that point the right way: each error names only options the running command has, says
what a file should hold, and comes as the last line of stderr with exit status 2."""

from __future__ import annotations

import json
import re
import socket
import sys

import click
import pytest
from helpers import assert_user_error

from eiwa.cli import cli

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def command_options(name: str) -> set[str]:
    command = cli.get_command(click.Context(cli), name)
    return {option for param in command.params for option in (*param.opts, *param.secondary_opts)}


def assert_names_own_options(result, command: str, *fragments) -> str:
    """A one-line error (assert_user_error) whose every --option is one `command` has."""
    line = assert_user_error(result, *fragments)
    foreign = set(OPTION.findall(line)) - command_options(command)
    assert not foreign, f"eiwa {command} has no {', '.join(sorted(foreign))}: {line}"
    return line


def experiment_file(tmp_path, data: str) -> str:
    path = tmp_path / "experiment.toml"
    path.write_text(
        f'name = "x"\nout = "{tmp_path / "results"}"\nseeds = [1]\n[data]\n{data}\n'
        '[[grid]]\nname = "g"\nmodules = ["none"]\n',
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def one_sentence(tmp_path):
    path = tmp_path / "one.conll"
    path.write_text("John B-PER\nlives O\n", encoding="utf-8")
    return path


# Each case once reached a command that lacks the option its message named (or named a wrong cause).
CASES = {
    "evaluate_hironsan_with_an_english_model": (
        "evaluate",
        lambda tmp, model, one: ["evaluate", model, "--format", "hironsan"],
        "is ja data",
    ),
    "cv_without_data": ("cv", lambda tmp, model, one: ["cv", "--lang", "en"], "give --data"),
    "cv_of_one_sentence": (
        "cv",
        lambda tmp, model, one: ["cv", "--data", one, "--lang", "en"],
        "needs at least 2 sentences, got 1",
    ),
    "experiment_hironsan_as_english": (
        "experiment",
        lambda tmp, model, one: ["experiment", experiment_file(tmp, 'lang = "en"\nformat = "hironsan"')],
        "its language is ja, not en",
    ),
    "experiment_spans_without_a_path": (
        "experiment",
        lambda tmp, model, one: ["experiment", experiment_file(tmp, 'lang = "en"\nformat = "spans"')],
        "format spans needs a data path",
    ),
    "experiment_columns_without_token": (
        "experiment",
        lambda tmp, model, one: [
            "experiment",
            experiment_file(tmp, f'lang = "en"\nformat = "conll"\npath = "{one}"\ncolumns = ["tag"]'),
        ],
        "one named 'token'",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_errors_name_only_options_the_command_has(case, runner, tmp_path, tiny_model_dir, one_sentence):
    command, arguments, fragment = CASES[case]
    result = runner.invoke(cli, arguments(tmp_path, str(tiny_model_dir), str(one_sentence)))
    assert_names_own_options(result, command, fragment)


def test_training_on_too_little_data_to_set_dev_aside_says_so(tmp_path):
    from helpers import synthetic_sentences, tiny_config

    from eiwa.errors import EiwaError
    from eiwa.training.train import train

    with pytest.raises(EiwaError, match=r"no dev sentences .*\(3 training sentences\): give dev data") as caught:
        train(tiny_config(), synthetic_sentences(3), [], progress=False, log=lambda _: None)
    assert "--" not in str(caught.value)


# ----------------------------------------------------------------------------- JSON laid out wrongly

PRETTY = json.dumps({"text": "John lives in Paris.", "entities": [{"start": 0, "end": 4, "type": "PER"}]}, indent=2)


@pytest.mark.parametrize("name", ["one.json", "one.jsonl"])
def test_a_pretty_printed_json_object_is_named_not_called_invalid(name, runner, tmp_path, tiny_model_dir):
    path = tmp_path / name
    path.write_text(PRETTY + "\n", encoding="utf-8")
    for fmt in ([], ["--format", "spans"]):  # told by its content, and given
        result = runner.invoke(cli, ["evaluate", str(tiny_model_dir), "--data", str(path), *fmt])
        line = assert_names_own_options(result, "evaluate", f"{path}:1:", "one JSON object spread over 10 lines")
        assert "JSON array of records" in line and "one record a line" in line and "invalid" not in line


def test_json_lines_with_a_record_spread_over_lines_names_where_it_starts(runner, tmp_path, tiny_model_dir):
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "Mary is here."}\n' + PRETTY + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(path), "--input-format", "jsonl"])
    assert_names_own_options(result, "predict", f"{path}:2:", "a JSON record spread over several lines (of 2")
    path.write_text('{"text": "a"}\n{"text" "b"}\n', encoding="utf-8")  # a real syntax error stays one
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(path), "--input-format", "jsonl"])
    assert_user_error(result, f"{path}:2:", "invalid JSON")


# ----------------------------------------------------------------------------- eiwa serve


def test_serve_on_a_port_in_use_ends_with_one_line_and_exit_2(runner, tiny_model_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(cli, ["serve", str(tiny_model_dir), "--port", str(port)])
    line = assert_names_own_options(result, "serve", f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert line.endswith("choose another --port") and "INFO" not in result.stderr  # checked before uvicorn starts


def test_a_server_that_fails_to_start_after_the_check_is_one_line_too(runner, tiny_model_dir, monkeypatch):
    import eiwa.serving.http

    def uvicorn_start_failure(*args, **kwargs):
        sys.exit(3)  # what uvicorn.run does when the bind (or the app's start-up) fails

    monkeypatch.setattr(eiwa.serving.http, "serve", uvicorn_start_failure)
    result = runner.invoke(cli, ["serve", str(tiny_model_dir), "--port", "8999"])
    assert_names_own_options(result, "serve", "the server did not start on 127.0.0.1:8999")


def test_serve_on_a_host_that_is_not_this_machine_is_one_line(runner, tiny_model_dir):
    # 192.0.2.1 is kept for documentation (RFC 5737): no machine has it, and it needs no name lookup.
    result = runner.invoke(cli, ["serve", str(tiny_model_dir), "--host", "192.0.2.1"])
    assert_names_own_options(result, "serve", "cannot listen on 192.0.2.1:8080: Cannot assign requested address")


# ----------------------------------------------------------------------------- types the model does not know


def spans_file(tmp_path, *entities: tuple[int, int, str]):
    path = tmp_path / "gold.jsonl"
    entities = [{"start": start, "end": end, "type": kind} for start, end, kind in entities]
    path.write_text(json.dumps({"text": "John lives in Paris.", "entities": entities}) + "\n", encoding="utf-8")
    return path


def test_evaluating_data_of_types_the_model_does_not_tag_warns(runner, tmp_path, tiny_model_dir):
    path = spans_file(tmp_path, (0, 4, "PSN"))
    result = runner.invoke(cli, ["evaluate", str(tiny_model_dir), "--data", str(path), "--json"])
    assert result.exit_code == 0, result.output
    warning = "none of the data's entity types (PSN) is one the model tags (LOC, ORG, PER): every score is 0"
    assert f"warning: {warning}" in result.stderr
    scores = json.loads(result.stdout)
    assert scores["f1"] == 0.0 and scores["warnings"][0].startswith(warning)


def test_partly_shared_types_are_named_on_each_side(runner, tmp_path, tiny_model_dir):
    from eiwa.tagger import Tagger

    path = spans_file(tmp_path, (0, 4, "PER"), (14, 19, "CITY"))
    result = runner.invoke(cli, ["evaluate", str(tiny_model_dir), "--data", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: the data's types CITY are not among the model's (LOC, ORG, PER)" in result.stderr
    assert "warning: the model's types LOC, ORG do not occur in the data (CITY, PER)" in result.stderr
    scores = Tagger.load(tiny_model_dir).evaluate(str(path))  # the Python result carries them too
    assert [w.split(":")[0] for w in scores.warnings] == [
        "the data's types CITY are not among the model's (LOC, ORG, PER)",
        "the model's types LOC, ORG do not occur in the data (CITY, PER)",
    ]


def test_data_of_the_models_own_types_brings_no_warning(tiny_trained):
    from helpers import synthetic_sentences

    result, _ = tiny_trained
    scores = result.tagger.evaluate(synthetic_sentences(30, seed=3))
    assert scores.warnings == [] and "warnings" not in scores.to_dict()


# ----------------------------------------------------------------------------- bytes


def test_bytes_are_refused_with_their_type_in_python_and_undecodable_arguments_in_the_cli(
    runner, tiny_trained, tiny_model_dir
):
    from eiwa.errors import EiwaError

    tagger = tiny_trained[0].tagger
    with pytest.raises(EiwaError, match="got bytes: decode it first"):
        tagger.predict(b"John lives in Paris.")
    with pytest.raises(EiwaError, match=r"got b'John' \(bytes\)"):
        list(tagger.pipe([b"John"]))
    not_utf8 = b"John \xff in Paris".decode("utf-8", "surrogateescape")  # what Python makes of such argv bytes
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "fine", not_utf8])
    assert_names_own_options(result, "predict", "text argument 2: invalid UTF-8 (byte 0xff after 'John ')")
