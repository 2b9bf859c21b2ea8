"""RunSubscriptions on a real 3-master Valkey Cluster: one pub/sub connection per master, and
channels that follow their slot when it moves or their connection drops."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import RedisCluster

from flows.engine.keys import Keys
from flows.engine.subscriptions import RESYNC, Listener, RunSubscriptions
from tests.own_cluster import OwnCluster, move_slot_of

KEYS = Keys("", 16)
EVENT_TIMEOUT_SECONDS = 10.0  # bounds, not pauses
POLL_SECONDS = 0.02


@pytest.fixture
async def subscriptions(cluster_client: RedisCluster) -> AsyncIterator[RunSubscriptions]:
    subscriptions = RunSubscriptions(cluster_client, KEYS)
    yield subscriptions
    await subscriptions.close()


async def _runs_on_every_master(cluster: OwnCluster, per_master: int = 1) -> list[str]:
    """Run ids, `per_master` of them served by each master (from several partitions)."""
    by_port: dict[int, list[str]] = {master.port: [] for master in cluster.masters}
    while any(len(ids) < per_master for ids in by_port.values()):
        flow_id = KEYS.new_run_id()
        ids = by_port[(await cluster.owner_of(KEYS.flow_channel(flow_id))).port]
        if len(ids) < per_master:
            ids.append(flow_id)
    return [flow_id for ids in by_port.values() for flow_id in ids]


async def _publish(cluster_client: RedisCluster, channel: str, event: dict[str, Any]) -> int:
    """SPUBLISH as the scripts do; returns how many subscribers heard it."""
    return await cluster_client.spublish(channel, json.dumps(event))


async def _next_event(listener: Listener) -> dict[str, Any]:
    return await asyncio.wait_for(listener.queue.get(), EVENT_TIMEOUT_SECONDS)


async def _subscribers(cluster: OwnCluster, channel: str) -> int:
    """SSUBSCRIBErs of `channel` on the master serving it."""
    async with (await cluster.owner_of(channel)).async_client() as node:
        [(_name, count)] = await node.pubsub_shardnumsub(channel)
    return count


async def _eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """For server-side effects nothing announces (a closed connection's subscriptions going)."""
    deadline = time.monotonic() + EVENT_TIMEOUT_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, f"not within {EVENT_TIMEOUT_SECONDS}s: {what}"
        await asyncio.sleep(POLL_SECONDS)


async def test_listeners_hear_the_events_of_runs_on_every_master_in_publish_order(
    cluster: OwnCluster, cluster_client: RedisCluster, subscriptions: RunSubscriptions
):
    flow_ids = await _runs_on_every_master(cluster, per_master=8)
    listener = subscriptions.listener()

    await listener.listen_to(flow_ids)
    # Confirmed before listen_to returned: every publish finds its subscriber.
    heard_by = [
        await _publish(cluster_client, KEYS.flow_channel(flow_id), {"flow_id": flow_id, "n": n})
        for n in range(2)
        for flow_id in flow_ids
    ]
    events = [await _next_event(listener) for _ in range(2 * len(flow_ids))]
    listener.close()

    assert heard_by == [1] * (2 * len(flow_ids))
    for flow_id in flow_ids:
        assert [e["n"] for e in events if e["flow_id"] == flow_id] == [0, 1]


async def test_an_ends_only_listener_hears_only_the_ended_channel(
    cluster: OwnCluster, cluster_client: RedisCluster, subscriptions: RunSubscriptions
):
    flow_ids = await _runs_on_every_master(cluster)
    listener = subscriptions.listener()
    await listener.listen_to(flow_ids, ends_only=True)

    step_heard_by = [
        await _publish(cluster_client, KEYS.flow_channel(flow_id), {"kind": "step"})
        for flow_id in flow_ids
    ]
    for flow_id in flow_ids:
        await _publish(
            cluster_client, KEYS.flow_end_channel(flow_id), {"kind": "ended", "id": flow_id}
        )
    events = [await _next_event(listener) for _ in flow_ids]
    listener.close()

    assert step_heard_by == [0] * len(flow_ids)
    assert sorted(event["id"] for event in events) == sorted(flow_ids)
    assert {event["kind"] for event in events} == {"ended"}
    assert listener.queue.empty()


async def test_after_its_slot_moves_a_listener_gets_resync_then_hears_later_events(
    cluster: OwnCluster, cluster_client: RedisCluster, subscriptions: RunSubscriptions
):
    flow_ids = await _runs_on_every_master(cluster)
    moving = flow_ids[0]
    channel = KEYS.flow_channel(moving)
    old_owner = await cluster.owner_of(channel)
    listener = subscriptions.listener()
    await listener.listen_to(flow_ids)

    new_owner = await move_slot_of(cluster, KEYS.partition_of(moving).tag)
    first = await _next_event(listener)
    heard_by = await _publish(cluster_client, channel, {"after": "move"})
    after = await _next_event(listener)
    for flow_id in flow_ids[1:]:  # the others were not disturbed
        await _publish(cluster_client, KEYS.flow_channel(flow_id), {"still": flow_id})
    others = [await _next_event(listener) for _ in flow_ids[1:]]
    listener.close()

    assert new_owner != old_owner
    assert first is RESYNC
    assert heard_by == 1
    assert after == {"after": "move"}
    assert sorted(event["still"] for event in others) == sorted(flow_ids[1:])


async def test_a_killed_connection_gives_resync_and_later_events_arrive(
    cluster: OwnCluster, cluster_client: RedisCluster, subscriptions: RunSubscriptions
):
    flow_id = (await _runs_on_every_master(cluster))[0]
    channel = KEYS.flow_channel(flow_id)
    listener = subscriptions.listener()
    await listener.listen_to([flow_id])

    async with (await cluster.owner_of(channel)).async_client() as node:
        killed = 0
        for connection in await node.client_list():
            if int(connection.get("ssub", 0)):
                killed += await node.client_kill_filter(_id=connection["id"])
    first = await _next_event(listener)
    heard_by = await _publish(cluster_client, channel, {"after": "kill"})
    after = await _next_event(listener)
    listener.close()

    assert killed == 1
    assert first is RESYNC
    assert heard_by == 1
    assert after == {"after": "kill"}


async def test_a_closed_listener_leaves_its_channels_on_every_master(
    cluster: OwnCluster, subscriptions: RunSubscriptions
):
    flow_ids = await _runs_on_every_master(cluster, per_master=8)
    channels = [KEYS.flow_channel(flow_id) for flow_id in flow_ids]
    listener = subscriptions.listener()
    await listener.listen_to(flow_ids)
    assert [await _subscribers(cluster, channel) for channel in channels] == [1] * len(channels)

    listener.close()

    async def none_left() -> bool:
        return [await _subscribers(cluster, c) for c in channels] == [0] * len(channels)

    await _eventually(none_left, "every channel left")


async def test_close_leaves_no_subscriptions(cluster: OwnCluster, cluster_client: RedisCluster):
    subscriptions = RunSubscriptions(cluster_client, KEYS)
    flow_ids = await _runs_on_every_master(cluster)
    channels = [KEYS.flow_end_channel(flow_id) for flow_id in flow_ids]
    await subscriptions.listener().listen_to(flow_ids, ends_only=True)
    subscribed = [await _subscribers(cluster, channel) for channel in channels]

    await subscriptions.close()

    async def none_left() -> bool:
        return [await _subscribers(cluster, c) for c in channels] == [0] * len(channels)

    await _eventually(none_left, "every subscription gone")
    assert subscribed == [1] * len(channels)


async def test_every_listener_of_a_moved_slot_gets_one_resync_per_move(
    cluster: OwnCluster, cluster_client: RedisCluster, subscriptions: RunSubscriptions
):
    partition = KEYS.partition_of(KEYS.new_run_id())
    flow_ids = [KEYS.new_run_id(partition) for _ in range(5)]
    listeners = [subscriptions.listener(), subscriptions.listener()]
    await listeners[0].listen_to(flow_ids)
    await listeners[1].listen_to(flow_ids[:2], ends_only=True)
    heard: list[list[dict[str, Any]]] = [[], []]

    for move in range(2):  # there and on: the channels follow the slot each time
        await move_slot_of(cluster, partition.tag)
        for index, listener in enumerate(listeners):
            heard[index].append(await _next_event(listener))
        await _publish(cluster_client, KEYS.flow_channel(flow_ids[4]), {"move": move})
        await _publish(cluster_client, KEYS.flow_end_channel(flow_ids[1]), {"ended": move})
        for index, listener in enumerate(listeners):
            heard[index].append(await _next_event(listener))
    for listener in listeners:
        listener.close()

    assert heard[0] == [RESYNC, {"move": 0}, RESYNC, {"move": 1}]
    assert heard[1] == [RESYNC, {"ended": 0}, RESYNC, {"ended": 1}]
