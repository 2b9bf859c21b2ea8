"""ASGI lifespan handling: runs the flow runner inside the web process.

Channels' ProtocolTypeRouter knows http and websocket only; uvicorn also sends a `lifespan`
scope, which this wrapper answers by starting the embedded runner on startup and stopping it
gracefully (stop claiming, finish or hand back) on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from flows.engine.runner import Runner

logger = logging.getLogger(__name__)

RunnerFactory = Callable[[], Runner | None]


class LifespanRunner:
    def __init__(self, application: Any, runner_factory: RunnerFactory) -> None:
        self.application = application
        self.runner_factory = runner_factory

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "lifespan":
            await self.application(scope, receive, send)
            return
        await self._lifespan(receive, send)

    async def _lifespan(
        self, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        runner: Runner | None = None
        task: asyncio.Task | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                runner = self.runner_factory()
                if runner is not None:
                    await runner.start()
                    task = asyncio.create_task(runner.run(), name="flows-embedded-runner")
                    logger.info("embedded flow runner started")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if runner is not None and task is not None:
                    runner.stop()
                    await task
                    logger.info("embedded flow runner stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return
