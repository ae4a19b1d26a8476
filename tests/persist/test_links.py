"""Writing onto a symbolic link (persist/atomic.py): every writer of a user-named file or directory
replaces what the link names, atomically, and leaves the link; a loop of links is one clear error."""

from __future__ import annotations

import os

import pytest

from eiwa.errors import EiwaError
from eiwa.persist.atomic import atomic_text, check_writable, lock, replace_directory, write_json
from eiwa.persist.model_dir import is_model_directory


def fill_with(text):
    def fill(staging):
        (staging / "meta.json").write_text('{"format": "eiwa-model"}', encoding="utf-8")
        (staging / "payload").write_text(text, encoding="utf-8")

    return fill


def test_files_are_written_through_a_chain_of_links(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.json"
    (tmp_path / "middle.json").symlink_to(target)  # dangling until the first write
    (tmp_path / "link.json").symlink_to(tmp_path / "middle.json")
    write_json(tmp_path / "link.json", {"n": 1})
    with atomic_text(tmp_path / "link.json") as stream:
        stream.write("two\n")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "middle.json").is_symlink()
    assert target.read_text(encoding="utf-8") == "two\n"
    assert sorted(os.listdir(tmp_path / "real")) == ["out.json"]


def test_a_model_directory_is_replaced_through_a_link_and_locked_where_it_lies(tmp_path):
    target, link = tmp_path / "models" / "v2", tmp_path / "latest"
    replace_directory(target, fill_with("old"), is_model_directory)
    link.symlink_to(target, target_is_directory=True)
    with lock(link):
        assert (target.parent / ".v2.lock").exists() and not (tmp_path / ".latest.lock").exists()
        replace_directory(link, fill_with("new"), is_model_directory)
    assert link.is_symlink() and (target / "payload").read_text(encoding="utf-8") == "new"
    assert sorted(os.listdir(target.parent)) == ["v2"]


def test_a_loop_of_links_is_refused_before_any_write(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for write in (
        lambda path: check_writable(path),
        lambda path: write_json(path, {}),
        lambda path: replace_directory(path, fill_with("x"), is_model_directory),
    ):
        with pytest.raises(EiwaError, match="a symbolic link loop"):
            write(tmp_path / "a")
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
