"""A stop signal never leaves a temporary file behind, and never waits for a long write to end: it
waits only while a step that must not be cut runs (making, renaming, removing the file)."""

from __future__ import annotations

import os
import signal

import pytest

from eiwa.persist import atomic
from eiwa.persist.atomic import atomic_text, signals_deferred


def test_a_signal_while_a_stream_is_written_stops_it_at_once_and_leaves_nothing(tmp_path):
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with atomic_text(tmp_path / "out.txt") as stream:
            stream.write("a")
            signal.raise_signal(signal.SIGINT)
            reached.append("after the signal")
    assert reached == [] and os.listdir(tmp_path) == []


def test_a_signal_while_the_file_is_put_in_place_acts_once_it_is_there(tmp_path, monkeypatch):
    put_in_place = atomic._put_in_place

    def signalled_midway(temporary, path):
        signal.raise_signal(signal.SIGINT)
        put_in_place(temporary, path)

    monkeypatch.setattr(atomic, "_put_in_place", signalled_midway)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_json(tmp_path / "out.json", {"whole": True})
    assert os.listdir(tmp_path) == ["out.json"]


def test_the_handlers_are_restored_after_a_deferral():
    before = signal.getsignal(signal.SIGINT)
    with signals_deferred():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
