"""The live bridge as a service: it closes its Redis client however it ends, a failed start too
(a client left open warns when collected, failing whichever later test is running then)."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as redis
from django.conf import settings

from flows.live.bridge import LiveBridge

CLOSING_SECONDS = 5.0  # a bound, not a pause
POLL_SECONDS = 0.02


async def _connections(client: redis.Redis) -> int:
    """Clients connected to the server, or to every master of the cluster."""
    if isinstance(client, redis.RedisCluster):
        answers = await client.client_list(target_nodes=redis.RedisCluster.PRIMARIES)
        return sum(len(answer) for answer in answers.values())
    return len(await client.client_list())


async def _settled_connections(client: redis.Redis, expected: int) -> int:
    """The count once it is `expected`, or after CLOSING_SECONDS: a server forgets a closed
    connection a moment after the client closed it."""
    deadline = time.monotonic() + CLOSING_SECONDS
    while True:
        count = await _connections(client)
        if count == expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(POLL_SECONDS)


async def test_a_bridge_that_cannot_start_closes_its_client(client: redis.Redis):
    bridge = LiveBridge(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    # Its group cannot be made on a key that is no stream: start() fails after connecting.
    await client.set(bridge.events.keys.partitions[0].events, "not a stream")
    before = await _connections(client)

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await bridge.start()

    assert await _settled_connections(client, before) == before


async def test_a_stopped_bridge_leaves_its_group_and_closes_its_client(client: redis.Redis):
    bridge = LiveBridge(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    before = await _connections(client)
    await bridge.start()
    bridge.stop()

    await bridge.run()

    for part in bridge.events.keys.partitions:
        assert await client.xinfo_consumers(part.events, LiveBridge.group) == []
    assert await _settled_connections(client, before) == before
