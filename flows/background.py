"""The shape of the web process's services that follow the engine (the live bridge, the
archiver): a round of work repeated until stop(), one last round for what is still owed, and
their Redis client closed however that ended (a client left open warns when collected).
The lifespan (flowsite/lifespan.py) starts, supervises and stops them."""

from __future__ import annotations

import asyncio
import contextlib


class RoundsUntilStopped:
    def __init__(self) -> None:
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """Nothing to prepare, unless a service says otherwise."""

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                await self.work()
            await self.finish()
        finally:
            await self.close()

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if stop() comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def work(self) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        """What is still owed when the service stops."""

    async def close(self) -> None:
        raise NotImplementedError
