"""Errors that eiwa reports to the user as one clear line, without a traceback."""

from __future__ import annotations

from pathlib import Path


class EiwaError(Exception):
    """An error caused by the user's input or environment; the CLI prints it and exits 2."""


class DataError(EiwaError):
    """A malformed input file: the message names the file and, where known, the line."""

    def __init__(self, path: str | Path | None, line: int | None, message: str):
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class ModelError(EiwaError):
    """A model directory that is missing, damaged or from an incompatible version."""
