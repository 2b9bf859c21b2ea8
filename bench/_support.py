"""What the live benchmarks share: a real uvicorn server on 127.0.0.1 with its lifespan services
(embedded runner's child process, live bridge, archiver), a throwaway SQLite database and a
fresh Redis key prefix on $REDIS_URL, all removed afterwards; plus a logged-in session, the
server's RSS and its Redis connections."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil
import redis

from flows.management.commands.serve import GRACEFUL_SHUTDOWN_SECONDS

USERNAME = "bench"
PASSWORD = "bench-password-1"
STOP_SECONDS = 30


@dataclass(frozen=True)
class Site:
    base: str  # http://127.0.0.1:<port>
    environment: dict[str, str]
    pid: int

    @property
    def key_prefix(self) -> str:
        return self.environment["FLOWS_KEY_PREFIX"]

    @property
    def redis_url(self) -> str:
        return self.environment["REDIS_URL"]

    def manage(self, *arguments: str) -> str:
        """Run a management command against the site's database; return its output."""
        command = [sys.executable, "manage.py", *arguments]
        done = subprocess.run(command, env=self.environment, check=True, capture_output=True)
        return done.stdout.decode()

    def rss_mib(self) -> float:
        """The ASGI process's resident memory."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def redis_connections(self) -> int:
        """The ASGI process's open TCP connections to the Redis server."""
        port = urlsplit(self.redis_url).port or 6379
        connections = psutil.Process(self.pid).net_connections(kind="tcp")
        return sum(
            1 for connection in connections if connection.raddr and connection.raddr.port == port
        )

    def socket_url(self, path: str) -> str:
        """The WebSocket address of a live path such as "ws/runs/"."""
        return f"ws://{self.base.removeprefix('http://')}/{path}"

    def socket_headers(self, session: str) -> dict[str, str]:
        """What a logged-in browser sends when it opens the page's socket."""
        return {"Cookie": f"sessionid={session}", "Origin": self.base}

    def session_cookie(self) -> str:
        """A session of the bench superuser, created in the site's database (no login form)."""
        script = (
            "from django.contrib.auth.models import User; from django.test import Client; "
            f"client = Client(); client.force_login(User.objects.get(username={USERNAME!r})); "
            "print(client.cookies['sessionid'].value)"
        )
        return self.manage("shell", "--no-imports", "-c", script).strip()


def environment_for(workdir: str, **overrides: str) -> dict[str, str]:
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL (make bench does this for you)")
    return dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        FLOWSITE_VAR_DIR=workdir,
        FLOWS_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:8]}:",
        DJANGO_SUPERUSER_USERNAME=USERNAME,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        LOG_LEVEL="WARNING",
        **overrides,
    )


@contextmanager
def served_site(workers: int = 1, **overrides: str) -> Iterator[Site]:
    """The site under uvicorn (with `workers` worker processes) until the block ends; then the
    server stops (SIGTERM, so its runner hands back) and every key under the site's prefix is
    deleted. `pid` is uvicorn's: with several workers, their parent."""
    environment = environment_for(tempfile.mkdtemp(prefix="flowsite-bench-"), **overrides)
    python = sys.executable
    for command in (["migrate", "-v0"], ["bootstrap"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(
            [python, "manage.py", *command], env=environment, check=True, capture_output=True
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [python, "-m", "uvicorn", "flowsite.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "on", "--ws", "websockets-sansio"]
    command += ["--no-access-log", "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)]
    command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, env=environment, stderr=subprocess.PIPE, text=True, process_group=0
    )
    try:
        started = 0
        for line in server.stderr:  # blocks until every worker reports start-up
            started += "startup complete" in line
            if started == workers:
                break
        else:
            raise RuntimeError("uvicorn exited before start-up completed")
        # Keep reading its log into a file, so a full pipe never blocks the server.
        log = open(f"{environment['FLOWSITE_VAR_DIR']}/server.log", "w")  # noqa: SIM115
        threading.Thread(target=shutil.copyfileobj, args=(server.stderr, log), daemon=True).start()
        yield Site(f"http://127.0.0.1:{port}", environment, server.pid)
    finally:
        stop(server)
        delete_prefix(environment["REDIS_URL"], environment["FLOWS_KEY_PREFIX"])


def stop(server: subprocess.Popen) -> None:
    """SIGTERM, then, if uvicorn has not exited after STOP_SECONDS (its graceful shutdown waits
    for every open connection and task), SIGKILL its process group. The runner child, in a
    session of its own, then gets SIGTERM from the kernel and stops gracefully."""
    server.terminate()
    try:
        server.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"uvicorn still running {STOP_SECONDS} s after SIGTERM: killed", file=sys.stderr)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def delete_prefix(redis_url: str, prefix: str) -> None:
    """Delete every key under the prefix (engine keys and the channel layer's alike)."""
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
