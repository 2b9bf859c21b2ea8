"""Sockets that connect to the same page together share one read of its state.

After a restart every open page reconnects at once, and each read renders the whole page in
the one thread the ORM uses: read one by one, the last socket of a crowd on a popular run would
wait for every other socket's render before it could connect. A socket may only take
a read that starts after it joined its group (an earlier read could miss a transition it will
not be sent), so while a read runs, the sockets that arrive wait for the next one, which starts
when it ends and serves them all: at most two reads per page at a time, however many connect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedReads(Generic[T]):
    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}
        self._queued: dict[Hashable, asyncio.Future[T]] = {}

    async def read(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The result of a `load` of `key` that starts no earlier than this call."""
        if key not in self._running:
            return await asyncio.shield(self._start(key, load))
        if key not in self._queued:
            running = self._running[key]
            self._queued[key] = asyncio.ensure_future(self._after(running, key, load))
        # Shielded: a socket that goes away must not cancel the read the others wait for.
        return await asyncio.shield(self._queued[key])

    async def _after(
        self, running: asyncio.Future[T], key: Hashable, load: Callable[[], Awaitable[T]]
    ) -> T:
        await asyncio.wait([running])
        # Those arriving from now on may have joined after this read starts: they queue anew.
        del self._queued[key]
        return await self._start(key, load)

    def _start(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        future = asyncio.ensure_future(load())
        self._running[key] = future
        future.add_done_callback(
            lambda done: self._running.pop(key) if self._running.get(key) is done else None
        )
        return future
