"""Where eiwa keeps what it compiles from installed resources (the gazetteer's dictionary)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$EIWA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/eiwa``, else ``~/.cache/eiwa``."""
    explicit = os.environ.get("EIWA_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is to be ignored
        return Path(xdg) / "eiwa"
    return Path.home() / ".cache" / "eiwa"
