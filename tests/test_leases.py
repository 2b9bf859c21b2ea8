"""Background services run once across web workers: a lease in Redis has one holder at a time,
passes on when its holder stops or stops renewing it, and a holder that loses it stops its
service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from flows.engine.connections import async_client
from flowsite.embedded_redis import EmbeddedRedis
from flowsite.leases import Lease, OnceAcrossWorkers, lease_key

SHORT_LEASE_SECONDS = 0.3


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = async_client(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class _Recorded:
    """A service that records, across every copy, how many run at once."""

    running = 0
    most_at_once = 0

    def __init__(self, worker: str, started: list[str]) -> None:
        self.worker = worker
        self.started = started
        self.running_now = asyncio.Event()
        self.stopped = asyncio.Event()
        self._stop = asyncio.Event()

    async def start(self) -> None:
        pass

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        type(self).running += 1
        type(self).most_at_once = max(type(self).most_at_once, type(self).running)
        self.started.append(self.worker)
        self.running_now.set()
        try:
            await self._stop.wait()
        finally:
            type(self).running -= 1
            self.stopped.set()


class _Worker:
    """One web worker's copy of a leased service; `made` gets each copy it starts."""

    def __init__(self, name: str, redis_url: str, started: list[str], seconds: float) -> None:
        self.made: asyncio.Queue[_Recorded] = asyncio.Queue()

        def make() -> _Recorded:
            service = _Recorded(name, started)
            self.made.put_nowait(service)
            return service

        self.leased = OnceAcrossWorkers("Recorded", make, redis_url, "test:", seconds)
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.leased.run(), name=f"worker-{id(self)}")

    async def stop(self) -> None:
        self.leased.stop()
        assert self.task is not None
        await self.task

    async def next_service_running(self) -> _Recorded:
        service = await self.made.get()
        await service.running_now.wait()
        return service


async def test_a_lease_has_one_holder_until_it_releases_it(client: redis.Redis):
    first, second = Lease(client, lease_key("test:", "x")), Lease(client, lease_key("test:", "x"))

    assert await first.acquire() == 0
    assert 0 < await second.acquire() <= first.seconds
    assert await first.acquire() == 0  # its holder may take it again
    await second.release()  # not its own: nothing happens
    assert await first.renew()

    await first.release()
    assert await second.acquire() == 0
    assert not await first.renew()


async def test_a_lease_whose_holder_stopped_renewing_is_taken_once_it_lapses(
    client: redis.Redis,
):
    key = lease_key("test:", "x")
    dead, alive = Lease(client, key, SHORT_LEASE_SECONDS), Lease(client, key, SHORT_LEASE_SECONDS)
    assert await dead.acquire() == 0

    wait = await alive.acquire()
    assert 0 < wait <= SHORT_LEASE_SECONDS
    # The lease's expiry in Redis is the event; nothing announces it. (It lapses to the
    # millisecond: a try at the very moment may be told to wait 1 ms more.)
    while wait:
        await asyncio.sleep(wait)
        wait = await alive.acquire()

    assert not await dead.renew()


async def test_two_workers_run_a_leased_service_one_at_a_time_and_hand_it_over_on_stop(
    redis_url: str,
):
    _Recorded.running = _Recorded.most_at_once = 0
    started: list[str] = []
    first = _Worker("first", redis_url, started, SHORT_LEASE_SECONDS)
    second = _Worker("second", redis_url, started, SHORT_LEASE_SECONDS)
    first.start()
    await first.next_service_running()
    second.start()
    # Past several renewals of the first worker's lease: the second still waits.
    await asyncio.sleep(SHORT_LEASE_SECONDS * 3)
    assert started == ["first"]

    await first.stop()
    await second.next_service_running()
    await second.stop()

    assert started == ["first", "second"]
    assert _Recorded.most_at_once == 1


async def test_a_worker_that_loses_its_lease_stops_its_service_and_takes_it_again_later(
    redis_url: str, client: redis.Redis
):
    worker = _Worker("only", redis_url, [], SHORT_LEASE_SECONDS)
    worker.start()
    first = await worker.next_service_running()

    # Another holder has it (say the worker stalled past its expiry, and another took it).
    await client.set(lease_key("test:", "Recorded"), "another", px=500)

    await first.stopped.wait()
    second = await worker.next_service_running()  # once the other holder's lease lapsed
    await worker.stop()

    assert second.stopped.is_set()
    assert await client.get(lease_key("test:", "Recorded")) is None  # released on stop


class _RenewalFailures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "could not renew the lease" in record.getMessage():
            self.seen.set()


async def test_a_holder_keeps_its_service_running_while_redis_is_unreachable(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis").start()
    failures = _RenewalFailures()
    logging.getLogger("flowsite.leases").addHandler(failures)
    try:
        worker = _Worker("only", server.url, [], SHORT_LEASE_SECONDS)
        worker.start()
        service = await worker.next_service_running()

        server.stop()  # nobody can take the lease while nobody can reach Redis
        await failures.seen.wait()
        assert not service.stopped.is_set()

        await worker.stop()
    finally:
        logging.getLogger("flowsite.leases").removeHandler(failures)
        server.stop()
    assert service.stopped.is_set()
