"""Shared fixtures: the reference data, the CLI runner, a tiny trained model (helpers.py holds the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import SHARED_DATA, synthetic_sentences, tiny_config

# Two CPU cores shared with other work: one intra-op thread keeps tiny models fast and timings stable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found: expected the reference corpora at {SHARED_DATA}")
    return SHARED_DATA


# ----------------------------------------------------------------------------- the command line


@pytest.fixture
def runner():
    from click.testing import CliRunner

    # click 8.2+ keeps stdout and stderr apart (result.stdout / result.stderr); result.output mixes both.
    return CliRunner()


# ----------------------------------------------------------------------------- tiny trained models


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory):
    """A tiny English tagger trained briefly on synthetic data and saved: (TrainResult, directory)."""
    from eiwa.training.train import train

    out = tmp_path_factory.mktemp("tiny-model") / "model"
    config = tiny_config(max_epochs=4)
    result = train(
        config,
        synthetic_sentences(100, seed=1),
        synthetic_sentences(15, seed=2),
        out=out,
        progress=False,
        log=lambda _: None,
    )
    return result, out


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_trained) -> Path:
    return tiny_trained[1]
