"""A pool of persistent sandbox worker processes, driven from asyncio.

Scripts never run in the runner's event loop and never in a new process per step: each request
goes to an idle worker over a pipe. A worker that overruns its step's timeout, is cancelled, or
dies (a memory bomb trips its address-space cap) is killed and replaced; only that attempt fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys

from flows.engine.sandbox.host import MODULES_VARIABLE
from flows.engine.sandbox.limits import KILL_GRACE_SECONDS, MEMORY_MB, PIPE_LIMIT_BYTES
from flows.engine.sandbox.starlark_runtime import (
    ScriptRequest,
    ScriptResult,
    timeout_error,
)
from flows.engine.sandbox.syntax import ScriptError

logger = logging.getLogger(__name__)


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, memory_mb: int, script_modules: tuple[str, ...]) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "flows.engine.sandbox.worker",
            "--memory-mb",
            str(memory_mb),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=PIPE_LIMIT_BYTES,
            env={
                **os.environ,
                "RUST_BACKTRACE": "0",
                MODULES_VARIABLE: ",".join(script_modules),
            },
        )
        return cls(process)

    async def run(self, request: ScriptRequest) -> ScriptResult:
        """The worker's answer; raises _WorkerDied, or _AnswerTooLong (the worker must go: the
        rest of its answer is still in the pipe)."""
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps(request.__dict__).encode() + b"\n")
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise _WorkerDied(await self.process.wait()) from None  # it died while idle
        try:
            line = await self.process.stdout.readline()
        except ValueError:  # asyncio's StreamReader over its limit
            raise _AnswerTooLong from None
        if not line:
            raise _WorkerDied(await self.process.wait())
        return ScriptResult.from_dict(json.loads(line))

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class _WorkerDied(Exception):
    def __init__(self, returncode: int) -> None:
        self.returncode = returncode


class _AnswerTooLong(Exception):
    pass


def _death_error(returncode: int, memory_mb: int) -> ScriptError:
    """Why a worker died, told by how: an allocation failing under the address-space cap
    aborts (SIGABRT), the kernel's out-of-memory killer sends SIGKILL; any other signal is a
    crash."""
    if returncode >= 0:
        return ScriptError(f"sandbox worker ended unexpectedly (exit code {returncode})")
    name = _signal_name(-returncode)
    if -returncode == signal.SIGABRT:
        return ScriptError(
            f"sandbox worker aborted ({name}); "
            f"the script may have exceeded the {memory_mb} MiB memory limit"
        )
    if -returncode == signal.SIGKILL:
        return ScriptError(
            f"sandbox worker was killed ({name}), perhaps by the system running out of memory"
        )
    return ScriptError(f"sandbox worker crashed with signal {name}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class WorkerPool:
    """Runs ScriptRequests on up to `size` persistent worker processes."""

    def __init__(
        self,
        size: int,
        memory_mb: int = MEMORY_MB,
        script_modules: tuple[str, ...] = (),
    ) -> None:
        """`script_modules`: FLOWS_SCRIPT_MODULES entries its workers import."""
        self.size = size
        self.memory_mb = memory_mb
        self.script_modules = script_modules
        # Last in, first out: the most recently used worker is the likeliest to be warm.
        self._idle: asyncio.LifoQueue[_Worker] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(size)
        self._all: set[_Worker] = set()

    async def start(self) -> None:
        """Start every worker now, so the first steps don't pay for process start-up."""
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size - len(self._all))))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def run(self, request: ScriptRequest) -> ScriptResult:
        """Run one script; cancelling this coroutine kills the worker running it."""
        async with self._slots:
            worker = self._idle.get_nowait() if not self._idle.empty() else await self._spawn()
            try:
                async with asyncio.timeout(request.timeout + KILL_GRACE_SECONDS):
                    result = await worker.run(request)
            except TimeoutError:
                await self._discard(worker)
                return ScriptResult(error=timeout_error(request.timeout))
            except _WorkerDied as death:
                await self._discard(worker)
                logger.warning("sandbox worker died with exit code %s", death.returncode)
                return ScriptResult(error=_death_error(death.returncode, self.memory_mb))
            except _AnswerTooLong:
                await self._discard(worker)
                limit = PIPE_LIMIT_BYTES // 1024 // 1024
                return ScriptResult(
                    error=ScriptError(f"the script's result was over the {limit} MiB limit")
                )
            except BaseException:
                # Cancelled mid-script (the flow was cancelled or the runner is stopping):
                # the worker may still be computing, so it cannot be reused.
                await self._discard(worker)
                raise
            if result.fatal:
                await self._discard(worker)
            else:
                self._idle.put_nowait(worker)
            return result

    async def close(self) -> None:
        for worker in list(self._all):
            await self._discard(worker)

    async def _spawn(self) -> _Worker:
        worker = await _Worker.start(self.memory_mb, self.script_modules)
        self._all.add(worker)
        return worker

    async def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        await asyncio.shield(worker.kill())
