"""The web process's embedded flow runner, as a supervised child process.

A runner in the web process's event loop would share that loop, and the GIL, with the live
bridge, the archiver and every WebSocket; in a child process of its own (`python -m
flows.engine`) it runs as fast as a standalone runner. RunnerProcess is a lifespan Service:
start() spawns the child, run() fails should it exit unasked (and the lifespan starts it
again, after a growing pause, so a runner that keeps crashing neither dies silently nor
spins), stop() asks it to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

from flows.engine.runner_settings import RunnerSettings

logger = logging.getLogger(__name__)

# The runner finishes or hands back its steps within its shutdown grace, then exits; past that
# and this margin it is stuck, and killed.
KILL_MARGIN_SECONDS = 5.0


class RunnerExited(RuntimeError):
    pass


class RunnerProcess:
    """Runs `python -m flows.engine` as a child of this process, until stop()."""

    def __init__(
        self,
        redis_url: str,
        *,
        concurrency: int,
        key_prefix: str,
        retention_seconds: int,
        environment: dict[str, str] | None = None,
    ) -> None:
        """`environment`: variables the runner reads besides REDIS_URL (secrets key, HTTP)."""
        self.runner_settings = RunnerSettings(
            redis_url=redis_url,
            key_prefix=key_prefix,
            concurrency=concurrency,
            retention_seconds=retention_seconds,
        )
        self.environment = {**(environment or {}), "REDIS_URL": redis_url}
        self.arguments = [
            f"--concurrency={self.runner_settings.concurrency}",
            f"--key-prefix={self.runner_settings.key_prefix}",
            f"--retention-seconds={self.runner_settings.retention_seconds}",
            f"--shutdown-grace={self.runner_settings.shutdown_grace_seconds}",
            # The child stops too if this process is killed outright (PR_SET_PDEATHSIG).
            f"--parent-pid={os.getpid()}",
        ]
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "flows.engine",
            *self.arguments,
            # In the environment, not the arguments: the URL may hold a password, and any
            # user on the machine can read a process's arguments (`ps`).
            env={**os.environ, **self.environment},
            # A session of its own: a Ctrl-C in the terminal reaches this process only, which
            # stops the runner itself, in the order the lifespan stops its services.
            start_new_session=True,
        )
        logger.info("flow runner process %d started", self._process.pid)

    def stop(self) -> None:
        """Ask run() to stop the runner gracefully and return once it has exited."""
        self._stopping.set()

    async def run(self) -> None:
        """Fail if the child exits before stop(); after stop(), stop it and return once it has
        exited."""
        if await self._exits_before_stop():
            assert self._process is not None
            raise RunnerExited(
                f"flow runner process {self._process.pid} exited with code "
                f"{self._process.returncode}"
            )
        await self._stop_child()

    async def _exits_before_stop(self) -> bool:
        """Wait until the child exits (True) or stop() is called (False)."""
        assert self._process is not None
        exited = asyncio.create_task(self._process.wait(), name="runner-process-exit")
        stopping = asyncio.create_task(self._stopping.wait(), name="runner-process-stop")
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Cancelling either wait only stops the waiting, never the child.
            exited.cancel()
            stopping.cancel()
        return not self._stopping.is_set()

    async def _stop_child(self) -> None:
        """SIGTERM: the runner finishes or hands back its steps and exits; SIGKILL if stuck."""
        process = self._process
        assert process is not None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited just now
                process.terminate()
            try:
                grace = self.runner_settings.shutdown_grace_seconds
                async with asyncio.timeout(grace + KILL_MARGIN_SECONDS):
                    await process.wait()
            except TimeoutError:
                logger.error("flow runner process %d did not stop: killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        logger.info("flow runner process %d exited with code %s", process.pid, process.returncode)
