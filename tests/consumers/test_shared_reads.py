"""Sockets connecting together share reads of their page's state, but never one that started
before they joined."""

from __future__ import annotations

import asyncio

from flows.live.shared_reads import SharedReads


class Loads:
    """A load per call, numbered, each held until released."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.started += 1
        number = self.started
        await self.release.wait()
        return number


async def test_callers_arriving_during_a_read_share_the_next_one():
    reads, load = SharedReads[int](), Loads()
    first = asyncio.create_task(reads.read("run", load))
    await asyncio.sleep(0)  # the first read is running
    later = [asyncio.create_task(reads.read("run", load)) for _ in range(5)]
    await asyncio.sleep(0)

    load.release.set()

    assert await first == 1
    assert await asyncio.gather(*later) == [2, 2, 2, 2, 2]
    assert load.started == 2


async def test_a_caller_gone_away_does_not_cancel_the_read_others_share():
    reads, load = SharedReads[int](), Loads()
    first = asyncio.create_task(reads.read("run", load))
    await asyncio.sleep(0)
    leaving, staying = (asyncio.create_task(reads.read("run", load)) for _ in range(2))
    await asyncio.sleep(0)

    leaving.cancel()
    load.release.set()

    assert (await first, await staying) == (1, 2)


async def test_different_pages_do_not_share():
    reads, load = SharedReads[int](), Loads()
    load.release.set()

    assert sorted(await asyncio.gather(reads.read("a", load), reads.read("b", load))) == [1, 2]
