"""Tell a reader which of some streams got entries, without reading them for it.

A runner with free slots and nothing queued must wake as soon as a task is queued in any
partition's queue (keys.py), but must not take more tasks than it can run, so it takes nothing
while it waits; the live bridge on a cluster must wake as soon as any partition records an
event. One task per stream keeps a plain XREAD blocking on it (a command's keys must share a
slot on a cluster, and a blocking read cancelled half way would leave its connection out of
step, so each keeps blocking in its own task) and rings when entries arrive. The reader then
reads the streams that rang its own way (the take script, XREADGROUP).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis

from flows.engine.connections import async_client

logger = logging.getLogger(__name__)

BLOCK_MS = 5000  # how long one XREAD waits before it is sent again
PAUSE_SECONDS = 1.0  # after an error: Redis restarting or away


class StreamBells:
    def __init__(self, redis_url: str, streams: list[str]) -> None:
        """A client of their own: their reads block, which must not hold up the reader's
        commands for a connection (a cluster client allows so many in flight)."""
        self.client = async_client(redis_url, decode_responses=True)
        self.streams = streams
        self._rang: dict[str, None] = {}  # in the order they rang
        self._ringing = asyncio.Event()
        self._listeners: list[asyncio.Task] = []

    @property
    def started(self) -> bool:
        return bool(self._listeners)

    def start(self) -> None:
        self._listeners = [
            asyncio.create_task(self._listen(stream), name=f"bell-{stream}")
            for stream in self.streams
        ]

    def forget(self) -> None:
        """Forget the rings so far: call before reading the streams, so that an entry added
        while they are read rings anew."""
        self._rang.clear()
        self._ringing.clear()

    async def wait(self, seconds: float) -> list[str]:
        """The streams that got entries since forget(), waiting up to `seconds` for one."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ringing.wait(), seconds)
        rang = list(self._rang)
        self.forget()
        return rang

    async def close(self) -> None:
        for listener in self._listeners:
            listener.cancel()
        for listener in self._listeners:
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        self._listeners = []
        await self.client.aclose()

    async def _listen(self, stream: str) -> None:
        last = "$"
        while True:
            try:
                answer = await self.client.xread({stream: last}, count=100, block=BLOCK_MS)
            except redis.RedisError as error:
                logger.warning("stream bell %s: %s; listening again shortly", stream, error)
                last = "$"  # the server may have lost the stream: a flushed or new one
                await asyncio.sleep(PAUSE_SECONDS)
                continue
            if answer:
                last = answer[0][1][-1][0]
                self._rang[stream] = None
                self._ringing.set()
