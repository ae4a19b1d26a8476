"""Paths and permissions: every read turns the system's refusal into one line naming the file
(eiwa.persist.files), output directories are resolved as saving resolves them, and reading a model
renames nothing."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from eiwa.errors import DataError, EiwaError, ModelError
from eiwa.persist.atomic import check_writable_directory, lock, replace_directory
from eiwa.persist.files import read_bytes, read_text, what_is_there
from eiwa.persist.model_dir import is_model_directory, resolve_model
from eiwa.readers.files import read_text as read_data_text
from eiwa.tagger import Tagger

as_root = pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes past any permission")


def _copy(model, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(model, copy)
    return copy


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "it is a directory"),
        (lambda p: p.symlink_to(p.name), "symbolic link loop"),
        (lambda p: p.symlink_to("nowhere"), "no such file"),
    ],
    ids=["missing", "directory", "link loop", "dangling link"],
)
def test_every_os_error_of_a_read_is_one_line_naming_the_file(tmp_path, make, said):
    path = tmp_path / "f"
    make(path)
    for kind in (EiwaError, ModelError, DataError):
        with pytest.raises(kind, match=said) as caught:
            read_bytes(path, kind)
        assert str(caught.value).startswith(f"{path}:") and "\n" not in str(caught.value)


def test_names_no_file_can_have_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="the name is too long"):
        read_data_text(tmp_path / ("x" * 300))
    with pytest.raises(DataError, match="holds a NUL"):
        read_data_text(tmp_path / "a\0b")
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\n")
    with pytest.raises(EiwaError, match=r"bad.txt:2: invalid UTF-8"):
        read_text(tmp_path / "bad.txt")


@as_root
def test_an_unreadable_file_is_permission_denied_naming_it(tmp_path):
    path = tmp_path / "f"
    path.write_text("x", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(DataError, match=f"{path}: cannot read: permission denied"):
        read_data_text(path)


@as_root
def test_an_unreadable_weights_file_is_one_line_not_a_checksum_traceback(tiny_model_dir, tmp_path):
    copy = _copy(tiny_model_dir, tmp_path)
    (copy / "model.safetensors").chmod(0)
    with pytest.raises(ModelError, match="model.safetensors: cannot read: permission denied"):
        Tagger.load(copy)


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: p.mkdir(), "a directory, not a file"),
        (lambda p: p.symlink_to(p.name), "a symbolic link loop"),
        (lambda p: p.symlink_to("nowhere"), "a symbolic link to nothing"),
    ],
    ids=["directory", "link loop", "dangling link"],
)
def test_what_stands_in_place_of_the_weights_is_named_not_called_missing(tiny_model_dir, tmp_path, make, said):
    copy = _copy(tiny_model_dir, tmp_path)
    (copy / "model.safetensors").unlink()
    make(copy / "model.safetensors")
    assert what_is_there(copy / "model.safetensors") == said
    with pytest.raises(ModelError, match=f"model.safetensors: {said}"):
        Tagger.load(copy)


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda p: p.symlink_to(p.name), "a symbolic link loop"),
        (lambda p: p.symlink_to("nothing"), "a symbolic link to nothing"),
        (lambda p: p.write_text("x"), "a file"),
    ],
)
def test_what_stands_in_place_of_a_model_directory_is_named(tmp_path, make, said):
    make(tmp_path / "m")
    with pytest.raises(ModelError, match=f"^{tmp_path / 'm'}: not a model directory: {said}$"):
        resolve_model(tmp_path / "m")
    with pytest.raises(ModelError, match="no such model directory or built-in model"):
        resolve_model(tmp_path / "absent")


def test_a_string_format_version_must_be_an_integer(tiny_model_dir, tmp_path):
    copy = _copy(tiny_model_dir, tmp_path)
    meta = json.loads((copy / "meta.json").read_text(encoding="utf-8"))
    (copy / "meta.json").write_text(json.dumps({**meta, "format_version": "2"}), encoding="utf-8")
    with pytest.raises(ModelError, match="format_version must be an integer, found '2'"):
        Tagger.load(copy)


def _half_swapped_model(tmp_path, tiny_model_dir):
    """What a save killed between the fallback swap's two renames leaves: the model beside its path."""
    old = tmp_path / ".m.99.old"
    shutil.copytree(tiny_model_dir, old)
    return tmp_path / "m", old


def test_reading_a_model_renames_nothing_and_says_how_to_recover(tmp_path, tiny_model_dir):
    target, old = _half_swapped_model(tmp_path, tiny_model_dir)
    with pytest.raises(ModelError, match=r"interrupted save left the model at .*\.m\.99\.old: rename it back \(mv "):
        Tagger.load(target)
    with pytest.raises(ModelError, match="interrupted save"):
        resolve_model(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.99.old"]


def test_the_next_writer_puts_a_half_swapped_model_back(tmp_path, tiny_model_dir):
    target, old = _half_swapped_model(tmp_path, tiny_model_dir)
    with lock(target):
        assert is_model_directory(target) and not old.exists()
    Tagger.load(target)


def test_an_output_directory_that_is_a_link_loop_is_refused_before_any_work(tmp_path):
    loop = tmp_path / "out"
    loop.symlink_to("out")
    refused = "out: cannot write output here \\(a symbolic link loop\\)"
    with pytest.raises(EiwaError, match=refused):
        check_writable_directory(loop)
    with pytest.raises(EiwaError, match=refused), lock(loop):
        pass
    with pytest.raises(EiwaError, match="symbolic link loop"):
        replace_directory(loop / "m", lambda staging: None, is_model_directory)


def test_an_output_directory_whose_parent_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(EiwaError, match="is not a directory"):
        check_writable_directory(tmp_path / "file" / "m")


@as_root
def test_an_output_directory_under_a_read_only_directory_is_refused(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    with pytest.raises(EiwaError, match="is not writable"):
        check_writable_directory(tmp_path / "ro" / "m")


def test_saving_through_a_link_to_a_directory_replaces_the_directory_and_keeps_the_link(tmp_path, tiny_model_dir):
    real = tmp_path / "real"
    (tmp_path / "link").symlink_to("real")
    model = Tagger.load(tiny_model_dir)
    model.save(tmp_path / "link")
    model.save(tmp_path / "link")  # over the model it saved: the swap happens where the link points
    assert (tmp_path / "link").is_symlink() and is_model_directory(real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]
