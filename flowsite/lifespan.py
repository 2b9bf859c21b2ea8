"""ASGI lifespan handling: runs background services inside the web process.

Channels' ProtocolTypeRouter knows http and websocket only; uvicorn also sends a `lifespan`
scope, which this wrapper answers by starting the services on startup, in order, and stopping
them on shutdown in the same order: the embedded runner's process first (it stops claiming,
finishes or hands back, and exits), so the live bridge and the archiver still see its last
transitions. A service that fails in between (Redis restarting, say) is logged and started
again after a growing pause: one that died silently would stop archiving runs, or the pages'
live updates, until the web process restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
# At most this: a service comes back within seconds of what it needs (Redis, after a restart),
# and one that keeps failing still logs only every few seconds.
MAX_BACKOFF_SECONDS = 5.0
# A service that ran this long was healthy: after its next failure, the pauses start short again.
STABLE_SECONDS = 60.0


class Service(Protocol):
    """May set `longest_pause_seconds` below MAX_BACKOFF_SECONDS: one cheap to start again
    that someone waits for."""

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


ServicesFactory = Callable[[], list[Service]]
StartupCheck = Callable[[], Awaitable[object]]


def service_name(service: Service) -> str:
    """What the log calls a service: its `name` if it has one (a service run under a lease is
    named for the service it runs), else its class."""
    return getattr(service, "name", type(service).__name__)


async def keep_running(service: Service, stopping: asyncio.Event) -> None:
    """Run a started service until it returns (stopped); whenever it fails first, log why and
    start it again, after pauses that double up to MAX_BACKOFF_SECONDS."""
    name, loop = service_name(service), asyncio.get_running_loop()
    longest_pause = getattr(service, "longest_pause_seconds", MAX_BACKOFF_SECONDS)
    backoff, restarting = FIRST_BACKOFF_SECONDS, False
    while True:
        started_at = loop.time()
        try:
            if restarting:
                await service.start()
            await service.run()
            return
        except Exception:
            if stopping.is_set():
                raise
            ran = loop.time() - started_at
            # Nor is one that, started again, ran longer than its next pause would be: it is
            # not failing over and over but, say, met a Redis restart, and is back with Redis.
            if ran >= STABLE_SECONDS or (restarting and ran >= backoff):
                backoff = FIRST_BACKOFF_SECONDS
            logger.exception("%s failed; starting it again in %g s", name, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), backoff)
        if stopping.is_set():
            return
        backoff, restarting = min(backoff * 2, longest_pause), True


class LifespanServices:
    def __init__(
        self,
        application: Any,
        services_factory: ServicesFactory,
        startup_check: StartupCheck | None = None,
    ) -> None:
        """`startup_check` runs before any service starts; whatever it raises refuses the
        start-up, with the error's text as the one line the server logs."""
        self.application = application
        self.services_factory = services_factory
        self.startup_check = startup_check

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "lifespan":
            await self.application(scope, receive, send)
            return
        await self._lifespan(receive, send)

    async def _lifespan(
        self, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        running: list[tuple[Service, asyncio.Task]] = []
        stopping = asyncio.Event()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self.startup_check is not None:
                        await self.startup_check()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                for service in self.services_factory():
                    await service.start()
                    name = service_name(service)
                    task = asyncio.create_task(keep_running(service, stopping), name=name)
                    running.append((service, task))
                    logger.info("%s started", name)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stopping.set()
                for service, task in running:
                    service.stop()
                    await task
                    logger.info("%s stopped", task.get_name())
                await send({"type": "lifespan.shutdown.complete"})
                return
