"""The error policy (issue 12): every bad input or environment is one line and exit status 2,
never a traceback and never exit 0 with a wrong result. One test per failure class of the
catalogue; docs/RELIABILITY.md maps each class to its test."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import unicodedata

import pytest
from helpers import TINY_SET, assert_user_error, synthetic_tagged, write_conll

from eiwa.cli import cli
from eiwa.persist.atomic import lock
from eiwa.tagger import Tagger


@pytest.fixture
def conll(tmp_path):
    return write_conll(tmp_path / "train.conll", synthetic_tagged(30, seed=7))


def train_args(data, out, *extra):
    return ["train", "--train", str(data), "--out", str(out), "--quiet", *TINY_SET, *extra]


# ----------------------------------------------------------------------------- JSON of the wrong shape


@pytest.mark.parametrize(
    "record, message",
    [
        ({"text": "John lives here", "entities": 5}, '"entities" must be a list'),
        ({"text": "John lives here", "entities": [5]}, "entity must be an object"),
        ([1, 2], '"text" string'),
    ],
)
def test_span_records_of_the_wrong_shape(runner, tmp_path, record, message):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"text": "fine", "entities": []}) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["train", "--format", "spans", "--train", str(path), "--out", str(tmp_path / "m")])
    assert_user_error(result, f"{path}:2", message)


def test_very_deep_nesting_is_a_data_error_not_a_recursion_error(runner, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" + "[" * 100_000 + "]" * 100_000 + "]", encoding="utf-8")
    assert_user_error(
        runner.invoke(cli, ["train", "--format", "spans", "--train", str(path), "--out", str(tmp_path / "m")]),
        str(path),
        "nested too deeply",
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]", "found list"),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "nested too deeply"),
        (b"\xff\xfe{}", "invalid UTF-8"),
    ],
)
def test_a_config_file_of_the_wrong_shape(runner, conll, tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    assert_user_error(runner.invoke(cli, train_args(conll, tmp_path / "m", "--config", str(path))), str(path), message)


@pytest.mark.parametrize("content, message", [("[1]", "expected a JSON object"), ("[" * 100_000, "nested too deeply")])
def test_a_meta_json_of_the_wrong_shape(runner, tiny_model_dir, tmp_path, content, message):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "meta.json").write_text(content, encoding="utf-8")
    assert_user_error(runner.invoke(cli, ["predict", str(copy), "John"]), "meta.json", message)


def test_an_unreadable_meta_json(runner, tiny_model_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "meta.json").unlink()
    (copy / "meta.json").mkdir()  # cannot be read as a file (chmod cannot stop root)
    assert_user_error(runner.invoke(cli, ["predict", str(copy), "John"]), "meta.json", "cannot read")


def test_an_unknown_tag_in_vocab_json(tiny_model_dir, tmp_path):
    from eiwa.errors import ModelError

    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    meta = json.loads((copy / "meta.json").read_text(encoding="utf-8"))
    del meta["files"]  # as a model without checksums: the vocabulary check itself must catch it
    (copy / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    vocab = json.loads((copy / "vocab.json").read_text(encoding="utf-8"))
    vocab["tags"][-1] = "Q-WHAT"
    (copy / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(ModelError, match="vocab.json is damaged"):
        Tagger.load(copy)


@pytest.mark.parametrize(
    "content, message",
    [(b'{"PER": 5}', "expected a target type"), (b"PER=\xff\xfe", "invalid UTF-8"), (b"[1]", "SOURCE=TARGET")],
)
def test_a_label_map_file_of_the_wrong_shape(runner, tiny_model_dir, conll, tmp_path, content, message):
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    result = runner.invoke(
        cli,
        [
            "transfer",
            "--lang",
            "en",
            "--source",
            str(tiny_model_dir),
            "--modules",
            "classifier",
            "--label-map",
            str(path),
            "--train",
            str(conll),
            "--out",
            str(tmp_path / "m"),
            *TINY_SET,
        ],
    )
    assert_user_error(result, message)


# ----------------------------------------------------------------------------- options out of range


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "lr=-1"], "lr must be a positive number"),
        (["--set", "lr=nan"], "lr must be a positive number"),
        (["--set", "lr_decay=-1"], "lr_decay must be"),
        (["--set", "patience=0"], "patience must be at least 1"),
        (["--set", "clip=inf"], "clip must be"),
        (["--seed", "-1"], "-1"),
    ],
)
def test_training_options_out_of_range(runner, conll, tmp_path, extra, message):
    result = runner.invoke(cli, train_args(conll, tmp_path / "m", *extra))
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert message in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("size", ["0", "-5"])
def test_predict_batch_size_out_of_range(runner, tiny_model_dir, size):
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--batch-size", size, "John lives in Paris"])
    assert result.exit_code == 2 and "batch-size" in result.output and "Traceback" not in result.output


def test_cv_negative_seed(runner, conll):
    assert_user_error(runner.invoke(cli, ["cv", "--data", str(conll), "--seeds", "1,-1"]), "--seeds")


# ----------------------------------------------------------------------------- output locations


def test_output_locations_that_cannot_be_written_fail_before_the_work(runner, tiny_model_dir, conll, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    assert_user_error(runner.invoke(cli, train_args(conll, blocker / "m")), "cannot write the model")
    assert_user_error(
        runner.invoke(cli, ["predict", str(tiny_model_dir), "John", "--output", str(blocker / "x.jsonl")]),
        "cannot write predictions",
    )
    assert_user_error(
        runner.invoke(cli, ["split", str(conll), "--format", "conll", "--out-dir", str(blocker / "s")]), "cannot write"
    )
    started = time.perf_counter()
    result = runner.invoke(
        cli, ["cv", "--data", str(conll), "--seeds", "1", "--folds", "2", *TINY_SET, "--out", str(blocker / "cv.json")]
    )
    assert_user_error(result, "cannot write the cross-validation result")
    assert "fold" not in result.stderr.lower() and time.perf_counter() - started < 5  # refused before training


def test_an_existing_output_file_is_overwritten(runner, tiny_model_dir, tmp_path):
    output = tmp_path / "x.jsonl"
    output.write_text("old results\n", encoding="utf-8")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "John lives in Paris", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text(encoding="utf-8"))["text"] == "John lives in Paris"


def test_a_missing_parent_of_an_output_file_is_created(runner, tiny_model_dir, tmp_path):
    output = tmp_path / "new" / "deeper" / "x.jsonl"
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "John lives in Paris", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text(encoding="utf-8").splitlines()[0])["text"] == "John lives in Paris"


def test_a_directory_of_other_files_is_not_replaced_by_train_force(runner, conll, tmp_path):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work", encoding="utf-8")
    assert_user_error(runner.invoke(cli, train_args(conll, out, "--force")), "not an eiwa model")
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "years of work"


# ----------------------------------------------------------------------------- text


def test_a_lone_surrogate_is_written_escaped(runner, tiny_model_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "John \\ud800 lives in Paris"}\n', encoding="utf-8")
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "--input", str(path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == "John \ud800 lives in Paris"


@pytest.mark.parametrize(
    "lang, text", [("en", "José Álvarez lives in São Paulo."), ("ja", "ガブリエルは東京のビルに行った。")]
)
def test_decomposed_text_keeps_whole_tokens_and_offsets_into_the_callers_string(lang, text):
    from eiwa.tokenize import tokenizer_for

    composed = tokenizer_for(lang).sentence(text).tokens
    decomposed_text = unicodedata.normalize("NFD", text)
    decomposed = tokenizer_for(lang).sentence(decomposed_text).tokens
    assert [t.text for t in decomposed] == [t.text for t in composed]
    for token in decomposed:
        assert unicodedata.normalize("NFC", decomposed_text[token.start : token.end]) == token.text


def test_predicted_spans_slice_decomposed_input(tiny_model_dir):
    text = unicodedata.normalize("NFD", "José Smith lives in Paris and Tokyo.")
    record = Tagger.load(tiny_model_dir).predict([text])[0]
    assert record["text"] == text
    for entity in record["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]


def test_overlapping_gold_entities_are_reported(runner, tmp_path):
    path = tmp_path / "data.jsonl"
    records = [
        {
            "text": "John Smith lives in New York",
            "entities": [
                {"start": 0, "end": 10, "type": "PER"},
                {"start": 5, "end": 10, "type": "PER"},
                {"start": 20, "end": 28, "type": "LOC"},
            ],
        }
    ] * 12
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
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
    assert result.exit_code == 0, result.output
    assert "12 gold entities overlap an earlier one" in result.stderr


def test_split_reads_crlf_and_blank_lines_holding_spaces(runner, tmp_path):
    path = tmp_path / "data.conll"
    blocks = [f"w{i} O\r\nx{i} B-PER\r\n" for i in range(20)]
    path.write_bytes(("\r\n".join(blocks[:10]) + " \t\r\n" + "   \n".join(blocks[10:])).encode("utf-8"))
    result = runner.invoke(cli, ["split", str(path), "--format", "conll", "--out-dir", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "train 16, dev 2, test 2" in result.stderr


# ----------------------------------------------------------------------------- writers and signals


def test_a_second_writer_of_the_same_out_fails_at_once(runner, conll, tmp_path):
    out = tmp_path / "m"
    with lock(out):  # as a training run in another process holds it
        assert_user_error(runner.invoke(cli, train_args(conll, out)), "another eiwa process", "is writing it")
    assert not out.exists()


def test_resume_with_other_settings_lists_them(runner, conll, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    from eiwa.training.checkpoint import CHECKPOINT

    # A run interrupted after its first epoch: train one epoch, then plant the checkpoint it wrote.
    first = runner.invoke(cli, train_args(conll, out, "--set", "max_epochs=1"))
    assert first.exit_code == 0, first.output
    from eiwa.training.checkpoint import write_checkpoint  # a checkpoint as an interrupted run leaves it

    tagger = Tagger.load(out)
    import torch

    optimizer = torch.optim.Adam(tagger.model.parameters())
    state = {
        "epoch": 1,
        "best_dev_f1": 0.0,
        "best_epoch": 1,
        "bad_epochs": 0,
        "updates": 4,
        "history": [],
        "seconds": 1.0,
    }
    write_checkpoint(out / CHECKPOINT, tagger, optimizer, state)
    message = assert_user_error(
        runner.invoke(cli, train_args(conll, out, "--resume", "--set", "lr=0.5", "--seed", "9")), "--resume continues"
    )
    assert "lr 0.03 (asked 0.5)" in message and "seed 1 (asked 9)" in message


def test_sigterm_ends_training_like_ctrl_c_and_keeps_the_checkpoint(conll, tmp_path):
    from eiwa.training.checkpoint import CHECKPOINT, read_checkpoint

    out = tmp_path / "m"
    command = [
        sys.executable,
        "-m",
        "eiwa",
        *train_args(conll, out, "--set", "max_epochs=10000", "--set", "patience=10000", "--set", "threads=1"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / CHECKPOINT).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "terminated" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert read_checkpoint(out / CHECKPOINT)[2]["epoch"] >= 1
    Tagger.load(out)  # the best model so far is whole
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.") and not p.name.endswith(".lock")]


def test_training_on_text_with_a_lone_surrogate_saves_and_resumes(runner, tmp_path):
    """The vocabulary then holds a word UTF-8 cannot encode: model files and checkpoint write it escaped."""
    import torch

    from eiwa.training.checkpoint import CHECKPOINT, read_checkpoint, write_checkpoint

    path = tmp_path / "data.jsonl"
    records = [
        {"text": f"John\ud800{i} lives in Paris", "entities": [{"start": 0, "end": 4, "type": "PER"}]}
        for i in range(12)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "m"
    result = runner.invoke(
        cli,
        [
            "train",
            "--format",
            "spans",
            "--train",
            str(path),
            "--out",
            str(out),
            "--quiet",
            *TINY_SET,
            "--set",
            "max_epochs=2",
            "--set",
            "min_word_count=1",
        ],
    )
    assert result.exit_code == 0, result.output
    words = Tagger.load(out).encoder.to_json()["features"]["word"]["vocabs"]["words"]["items"]
    assert any("\ud800" in word for word in words)
    tagger = Tagger.load(out)
    write_checkpoint(
        out / CHECKPOINT,
        tagger,
        torch.optim.Adam(tagger.model.parameters()),
        {"epoch": 1, "best_dev_f1": 0.0, "best_epoch": 1, "bad_epochs": 0, "updates": 1, "history": [], "seconds": 0.0},
    )
    assert read_checkpoint(out / CHECKPOINT)[0].encoder.to_json() == tagger.encoder.to_json()
