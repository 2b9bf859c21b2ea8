"""The shape of a web-process service that follows the engine's events (the live bridge): it
reads through a consumer group of its own, works until stopped, then finishes what it holds and
leaves the group."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as redis

from flows.engine.connections import pool_options
from flows.engine.events import EventReader
from flows.engine.keys import Keys


class EventGroupService:
    group: str  # the consumer group this service reads the events stream through
    acknowledged = True  # whether its events stay pending until it acknowledges them

    def __init__(self, redis_url: str, key_prefix: str = "") -> None:
        self.client = redis.Redis.from_url(redis_url, decode_responses=True, **pool_options())
        self.keys = Keys(key_prefix)
        self.reader = EventReader(self.client, self.keys, self.group, self.acknowledged)
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self.reader.ensure_group()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Work until stopped; what is in hand is finished before leaving."""
        try:
            while not self._stop.is_set():
                await self.work()
            await self.finish()
        finally:
            try:
                with contextlib.suppress(redis.RedisError):  # Redis may be what failed
                    await self.reader.leave()
            finally:
                await self.client.aclose()  # a client left open warns when collected

    async def work(self) -> None:
        """One round of reading and handling events (blocking briefly when there are none)."""
        raise NotImplementedError

    async def finish(self) -> None:
        """Anything still owed when the service stops."""
