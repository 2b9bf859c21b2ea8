"""ASGI lifespan handling: runs background services inside the web process.

Channels' ProtocolTypeRouter knows http and websocket only; uvicorn also sends a `lifespan`
scope, which this wrapper answers by starting the services on startup, in order, and stopping
them on shutdown in the same order: the embedded runner's process first (it stops claiming,
finishes or hands back, and exits), so the live bridge and the archiver still see its last
transitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


ServicesFactory = Callable[[], list[Service]]


class LifespanServices:
    def __init__(self, application: Any, services_factory: ServicesFactory) -> None:
        self.application = application
        self.services_factory = services_factory

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "lifespan":
            await self.application(scope, receive, send)
            return
        await self._lifespan(receive, send)

    async def _lifespan(
        self, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        running: list[tuple[Service, asyncio.Task]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for service in self.services_factory():
                    await service.start()
                    name = type(service).__name__
                    running.append((service, asyncio.create_task(service.run(), name=name)))
                    logger.info("%s started", name)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for service, task in running:
                    service.stop()
                    await task
                    logger.info("%s stopped", task.get_name())
                await send({"type": "lifespan.shutdown.complete"})
                return
