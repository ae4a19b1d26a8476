"""`--out` paths that saving cannot write are refused before training, checked as saving resolves them."""

from __future__ import annotations

import os

import pytest
from helpers import TINY_SET, assert_user_error, synthetic_tagged, write_conll

from eiwa.cli import cli


@pytest.fixture
def train_file(tmp_path):
    return write_conll(tmp_path / "train.conll", synthetic_tagged(8))


def _train(runner, data, out, *extra):
    return runner.invoke(cli, ["train", "--train", str(data), "--out", str(out), "--quiet", *TINY_SET, *extra])


@pytest.mark.parametrize("nproc", ["1", "2"])
def test_an_out_that_is_a_link_loop_is_refused_before_training(runner, train_file, tmp_path, nproc):
    loop = tmp_path / "out"
    loop.symlink_to("out")
    result = _train(runner, train_file, loop, "--nproc", nproc)
    assert_user_error(result, f"{loop}: cannot write the model here (a symbolic link loop)")
    assert "epoch" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "train.conll"]


def test_an_out_whose_parent_is_a_file_is_refused_before_training(runner, train_file, tmp_path):
    result = _train(runner, train_file, train_file / "m")
    assert_user_error(result, f"{train_file}/m: cannot write the model here", "is not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes past any permission")
def test_an_out_under_a_read_only_directory_is_refused_before_training(runner, train_file, tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    result = _train(runner, train_file, tmp_path / "ro" / "m")
    assert_user_error(result, "cannot write the model here", "is not writable")
