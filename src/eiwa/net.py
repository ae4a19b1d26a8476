"""Loopback networking shared by the process launchers (data-parallel training, the test server)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port that nothing listens on now (the OS picks it; another process may still
    take it before it is used)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
