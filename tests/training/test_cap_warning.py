"""The warning that `max_epochs`, not early stopping, ended a run while dev F1 was still improving:
from the loop's state, through `train`'s warn channel, into the result, the meta and `eiwa info`."""

from __future__ import annotations

import json

from helpers import synthetic_sentences, tiny_config

from eiwa.cli import cli
from eiwa.training.loop import cap_warning, new_state
from eiwa.training.train import train


def state(epoch: int, best_epoch: int) -> dict:
    return {**new_state(), "epoch": epoch, "best_epoch": best_epoch, "bad_epochs": epoch - best_epoch}


def test_the_cap_is_warned_about_only_when_it_ended_the_run_before_patience_ran_out():
    config = tiny_config(max_epochs=50, patience=15)
    warning = cap_warning(state(50, 50), config)
    assert warning.startswith("training stopped at max_epochs 50 before early stopping could end it")
    assert "last improved at epoch 50" in warning and warning.endswith("--set max_epochs=100")
    assert cap_warning(state(50, 36), config) is not None  # 14 epochs without improvement: patience not used up
    assert cap_warning(state(50, 35), config) is None  # early stopping ended it at the cap
    assert cap_warning(state(30, 30), config) is None  # not at the cap


def test_train_tells_its_warn_channel_and_keeps_the_warning_in_its_result():
    warned = []
    result = train(
        tiny_config(max_epochs=1),
        synthetic_sentences(20, seed=1),
        synthetic_sentences(5, seed=2),
        progress=False,
        log=lambda _: None,
        warn=warned.append,
    )
    assert warned == result.warnings and len(warned) == 1 and "max_epochs 1" in warned[0]


def test_the_saved_model_keeps_the_warning(tiny_trained):
    result, directory = tiny_trained  # 4 epochs with a patience of 8: the cap ended it
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    assert meta["training"]["warnings"] == result.warnings and "max_epochs 4" in result.warnings[0]


def test_a_run_that_early_stopping_ends_has_no_warning():
    warned = []
    result = train(
        tiny_config(max_epochs=30, patience=1),
        synthetic_sentences(40, seed=1),
        synthetic_sentences(10, seed=2),
        progress=False,
        log=lambda _: None,
        warn=warned.append,
    )
    assert result.epochs < 30 and result.warnings == [] and warned == []


def test_info_shows_the_warning(runner, tiny_model_dir):
    # The shared tiny model trains 4 epochs with a patience of 8: the cap ended it.
    result = runner.invoke(cli, ["info", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "warning: training stopped at max_epochs 4" in result.stdout
