"""`--resume` cannot lie: a checkpoint with flipped bytes, a header edited by hand, or other training
or dev data than the checkpoint was trained on are refused in one line naming the file and what differs."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import TINY_SET, assert_user_error, synthetic_tagged, write_conll
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from eiwa.cli import cli
from eiwa.errors import EiwaError
from eiwa.tagger import Tagger
from eiwa.training import train as train_module
from eiwa.training.checkpoint import CHECKPOINT, read_checkpoint


def _train_args(data, dev, out, *extra):
    return ["train", "--train", str(data), "--dev", str(dev), "--out", str(out), "--quiet", *TINY_SET, *extra]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """(train file, dev file, model directory) of a two-epoch run interrupted after its first epoch."""
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("interrupted")
    data = write_conll(root / "train.conll", synthetic_tagged(30, seed=7))
    dev = write_conll(root / "dev.conll", synthetic_tagged(10, seed=8))
    after_epoch = train_module._ModelWriter.after_epoch

    def stop_after_the_first(writer, improved):
        after_epoch(writer, improved)
        if writer.state["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module._ModelWriter, "after_epoch", stop_after_the_first)
        result = CliRunner().invoke(cli, _train_args(data, dev, root / "m"))
    assert result.exit_code == 130, result.output
    assert (root / "m" / CHECKPOINT).exists()
    return data, dev, root / "m"


@pytest.fixture
def run(interrupted, tmp_path):
    """A copy of the interrupted run, to spoil."""
    data, dev, out = interrupted
    shutil.copytree(out, tmp_path / "m")
    return data, dev, tmp_path / "m"


def _rewrite_header(path, edit, keep_checksum: bool = True) -> None:
    """Write the checkpoint again with `edit` applied to its parsed header, its checksum kept as it
    was or (as a checkpoint written before checksums) left out."""
    tensors = load_file(path)
    with safe_open(path, "pt") as handle:
        metadata = handle.metadata()
    header = {key: json.loads(value) for key, value in metadata.items() if key != "checksum"}
    edit(header)
    rewritten = {key: json.dumps(value) for key, value in header.items()}
    kept = {"checksum": metadata["checksum"]} if keep_checksum else {}
    save_file(tensors, path, metadata={**rewritten, **kept})


def test_an_unspoiled_checkpoint_resumes_to_the_end(runner, run):
    data, dev, out = run
    assert read_checkpoint(out / CHECKPOINT)[2]["data"]["train"].startswith("sha256:")
    result = runner.invoke(cli, _train_args(data, dev, out, "--resume"))
    assert result.exit_code == 0, result.output
    assert not (out / CHECKPOINT).exists() and Tagger.load(out)


def test_a_flipped_byte_in_a_tensor_is_refused(runner, run):
    data, dev, out = run
    path = out / CHECKPOINT
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10  # the last tensor's bytes lie at the end of the file
    path.write_bytes(bytes(raw))
    assert_user_error(runner.invoke(cli, _train_args(data, dev, out, "--resume")), str(path), "its checksum differs")


def test_a_checkpoint_without_a_checksum_is_resumed_unchecked(run):
    """As a checkpoint written before checksums were kept."""
    path = run[2] / CHECKPOINT
    _rewrite_header(path, lambda header: None, keep_checksum=False)
    assert read_checkpoint(path)[2]["epoch"] == 1


@pytest.mark.parametrize("which", ["train", "dev"])
def test_other_data_than_the_checkpoint_was_trained_on_is_refused(runner, run, which):
    data, dev, out = run
    edited = write_conll(out.parent / "edited.conll", synthetic_tagged(30 if which == "train" else 10, seed=99))
    args = _train_args(edited, dev, out, "--resume") if which == "train" else _train_args(data, edited, out, "--resume")
    message = assert_user_error(runner.invoke(cli, args), f"the {which} data differ", "--force")
    assert ("dev" if which == "train" else "train") + " data" not in message
    assert (out / CHECKPOINT).exists()


def test_unlabelled_text_the_checkpoint_was_not_trained_with_is_refused(runner, run, tiny_model_dir):
    data, dev, out = run
    texts = out.parent / "unlabelled.txt"
    texts.write_text("John Smith lives in Paris .\n", encoding="utf-8")
    extra = ["--resume", "--unlabelled", str(texts), "--teacher", str(tiny_model_dir)]
    assert_user_error(runner.invoke(cli, _train_args(data, dev, out, *extra)), "the unlabelled data differ")
    assert (out / CHECKPOINT).exists()


def _set(section, key, value):
    def edit(header):
        header[section][key] = value

    return edit


@pytest.mark.parametrize(
    "edit, field",
    [
        (_set("state", "epoch", "1"), "state.epoch"),
        (_set("state", "epoch", -1), "state.epoch"),
        (_set("state", "best_epoch", 1.5), "state.best_epoch"),
        (_set("state", "history", {"epoch": 1}), "state.history"),
        (_set("state", "history", [1, 2]), "state.history"),
        (_set("state", "best_dev_f1", "0.5"), "state.best_dev_f1"),
        (_set("state", "optimizer_groups", {}), "state.optimizer_groups"),
        (_set("state", "data", ["x"]), "state.data"),
        (lambda header: header.update(state=[1]), "state"),
        (lambda header: header.update(vocab="words"), "vocab"),
        (lambda header: header.update(config=None), "config"),
        (lambda header: header["vocab"]["tags"].append(3), "vocab"),
        (lambda header: header["vocab"]["features"]["word"].update(vocabs=5), "vocab"),
    ],
)
def test_a_hand_edited_header_is_refused_naming_the_field(runner, run, edit, field):
    data, dev, out = run
    path = out / CHECKPOINT
    _rewrite_header(path, edit)
    assert_user_error(runner.invoke(cli, _train_args(data, dev, out, "--resume")), str(path), field)


def test_a_hidden_size_other_than_the_weights_is_refused(run):
    path = run[2] / CHECKPOINT
    _rewrite_header(path, _set("config", "hidden_dim", 16))
    with pytest.raises(EiwaError, match="config does not match the weights") as refused:
        read_checkpoint(path)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value)


def test_a_well_shaped_edit_of_the_header_fails_its_checksum(run):
    path = run[2] / CHECKPOINT
    _rewrite_header(path, _set("state", "best_dev_f1", 0.99))
    with pytest.raises(EiwaError, match="its checksum differs"):
        read_checkpoint(path)


def test_optimizer_groups_that_do_not_fit_an_older_checkpoints_model_are_refused(runner, run):
    """Written before checksums, so only the optimizer's own check can tell."""
    data, dev, out = run
    path = out / CHECKPOINT
    _rewrite_header(path, _set("state", "optimizer_groups", []), keep_checksum=False)
    assert_user_error(
        runner.invoke(cli, _train_args(data, dev, out, "--resume")), str(path), "state.optimizer_groups do not fit"
    )
