"""Tests for eiwa.api: the commands as Python functions give what the commands give."""

from __future__ import annotations

import json

import pytest
from helpers import TINY, TINY_SET, synthetic_tagged, write_conll

import eiwa
from eiwa.errors import EiwaError

SETTINGS = {key: value for key, value in TINY.items() if key != "seed"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-data")
    return (
        write_conll(folder / "train.conll", synthetic_tagged(60, seed=1)),
        write_conll(folder / "dev.conll", synthetic_tagged(12, seed=2)),
    )


def test_train_is_the_train_command(data, tmp_path, runner):
    from eiwa.cli import cli

    train, dev = data
    result = eiwa.train(train, dev=dev, out=tmp_path / "api", settings=SETTINGS, log=lambda _: None)
    assert (
        runner.invoke(
            cli,
            ["train", "--train", str(train), "--dev", str(dev), "--out", str(tmp_path / "cli"), *TINY_SET, "--quiet"],
        ).exit_code
        == 0
    )
    from_cli = eiwa.load(tmp_path / "cli")
    assert result.tagger.evaluate(dev).f1 == from_cli.evaluate(str(dev)).f1
    assert json.loads((tmp_path / "api" / "config.json").read_text()) == from_cli.config.to_dict()


def test_evaluate_reads_a_path_in_any_format_and_refuses_data_without_gold(data, tmp_path, tiny_model_dir):
    train, dev = data
    tagger = eiwa.load(tiny_model_dir)
    sentences = eiwa.read(dev, format="conll").sentences
    assert tagger.evaluate(dev, format="conll").to_dict() == tagger.evaluate(sentences).to_dict()
    empty = write_conll(tmp_path / "no-gold.conll", [(["Nothing", "here", "."], ["O", "O", "O"])])
    with pytest.raises(EiwaError, match="no gold entities"):
        tagger.evaluate(empty)


def test_transfer_and_cross_validate(data, tmp_path, tiny_model_dir):
    train, dev = data
    result = eiwa.transfer(
        tiny_model_dir,
        train,
        dev=dev,
        lang="en",
        modules="char,classifier",
        out=tmp_path / "t",
        settings=SETTINGS,
        log=lambda _: None,
    )
    assert result.tagger.config.transferred == "char,classifier"
    summary = eiwa.cross_validate(train, folds=2, seeds=(1,), settings=SETTINGS, log=lambda _: None)
    assert summary["folds"] == 2 and len(summary["per_seed"]) == 1 and 0 <= summary["f1_mean"] <= 1


def test_a_setting_that_does_not_exist_is_a_user_error(data, tmp_path):
    with pytest.raises(EiwaError, match="unknown setting"):
        eiwa.train(data[0], out=tmp_path / "m", settings={"hidden_size": 3})


@pytest.mark.parametrize(
    "function, argument, value",
    [("train", "train", 4), ("train", "dev", 1), ("train", "out", -2), ("train", "config", {}),
     ("train", "settings", float("nan")), ("train", "settings", "x"), ("train", "format", {}),
     ("train", "lang", {}), ("train", "columns", True), ("train", "columns", [0]),
     ("train", "token_prefix", -1.0), ("train", "labels", 4), ("train", "device", {}), ("train", "device", None),
     ("train", "device", b"cpu"), ("train", "resume", "yes"), ("train", "log", "print"),
     ("transfer", "modules", 3), ("transfer", "label_map", 1), ("transfer", "teachers", 2),
     ("cross_validate", "folds", 2.0), ("cross_validate", "seeds", 1), ("cross_validate", "seeds", [-1]),
     ("cross_validate", "source", b"model")],
)  # fmt: skip
def test_an_argument_of_the_wrong_type_is_refused_by_name_before_any_work(data, tmp_path, function, argument, value):
    data_argument = "data" if function == "cross_validate" else "train"
    call = {data_argument: data[0], "log": lambda _: None, argument: value}
    if function != "cross_validate":
        call.setdefault("out", tmp_path / "m")
    positional = (str(tmp_path / "no-such-model"),) if function == "transfer" else ()  # the source, never loaded
    with pytest.raises(EiwaError, match=f"^{argument} must") as raised:
        getattr(eiwa, function)(*positional, **call)
    message = str(raised.value)
    assert "\n" not in message and (isinstance(value, list) or f"({type(value).__name__})" in message)
    assert not (tmp_path / "m").exists()
