"""Live resharding under load: partitions' slots move between masters while 50 runs are in
flight, and every run still completes, no step runs twice at once, and waits begun before the
moves see the runs end. The slots move by atomic slot migration, the way docs/scaling.md says
to reshard (a slot moved key by key can split a run's keys between two masters). Cluster layout
only (FLOWS_TEST_LAYOUTS=cluster)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from redis.crc import key_slot

from flows.engine import Flow, FlowExecutor, FlowStatus, Runner, new_flow, new_step
from flows.engine.connections import is_cluster_url
from flows.engine.keys import Partition
from tests import own_cluster
from tests.engine.flows import attempts_overlap
from tests.own_cluster import OwnCluster, migrate_slot_of

STEPS = 6
SCRIPT = "mock_api('slow', delay=0.05)\n1"
LIMITED_RUNS, LIMIT, FREE_RUNS = 30, 8, 20
RUNNERS, RUNNER_CONCURRENCY = 2, 8
WAIT_SECONDS = 90.0  # bounds, not pauses
SUBSCRIBE_SECONDS = 10.0
POLL_SECONDS = 0.02


@pytest.fixture
def engine_cluster(redis_url: str, request: pytest.FixtureRequest) -> OwnCluster:
    """The cluster the engine fixtures use (redis_url's): its slots are moved under them."""
    if not is_cluster_url(redis_url):
        pytest.skip("moves a cluster's slots: run with FLOWS_TEST_LAYOUTS=cluster")
    return request.getfixturevalue("own_cluster")


@pytest.fixture
async def runners(redis_url: str) -> AsyncIterator[list[Runner]]:
    """In-process runners, started (sandbox workers ready) before the test launches anything."""
    runners = [
        Runner(redis_url, concurrency=RUNNER_CONCURRENCY, lease_seconds=2.0) for _ in range(RUNNERS)
    ]
    for runner in runners:
        await runner.start()
    tasks = [
        asyncio.create_task(runner.run(), name=f"resharding-runner-{index}")
        for index, runner in enumerate(runners)
    ]
    yield runners
    for runner in runners:
        runner.stop()
    await asyncio.gather(*tasks)


def _chain(name: str, limit: int = 0) -> Flow:
    builder = new_flow(name)
    for index in range(STEPS):
        builder.add_step(new_step(f"s{index}").script(SCRIPT).build())
    if limit:
        builder.concurrency_limit(limit)
    return builder.build()


async def _subscribed(cluster: OwnCluster, channels: list[str]) -> bool:
    """Whether every channel has a subscriber on the master serving it."""
    async with cluster.masters[0].async_client() as seed:
        slots = own_cluster._owner_ports(await seed.execute_command("CLUSTER", "SLOTS"))
    by_port: dict[int, list[str]] = {}
    for channel in channels:
        by_port.setdefault(slots[key_slot(channel.encode())], []).append(channel)
    for port, on_master in by_port.items():
        async with cluster.by_port(port).async_client() as node:
            if any(count == 0 for _name, count in await node.pubsub_shardnumsub(*on_master)):
                return False
    return True


async def _until_subscribed(cluster: OwnCluster, channels: list[str]) -> None:
    """Subscriptions are a server-side effect nothing announces: poll for them, bounded."""
    deadline = time.monotonic() + SUBSCRIBE_SECONDS
    while not await _subscribed(cluster, channels):
        assert time.monotonic() < deadline, f"waits not subscribed within {SUBSCRIBE_SECONDS}s"
        await asyncio.sleep(POLL_SECONDS)


async def _unfinished(executor: FlowExecutor, flow_ids: list[str]) -> int:
    return sum(not state.status.is_final for state in await executor.store.read_flows(flow_ids))


async def _most_running_at_once(executor: FlowExecutor, part: Partition, name: str) -> int:
    """The most runs of flow `name` running at one time, by the partition's event stream."""
    running: set[str] = set()
    most = 0
    for _id, fields in await executor.redis.xrange(part.events):
        event = json.loads(fields["event"])
        if event["kind"] != "flow" or event["name"] != name:
            continue
        if event["status"] == FlowStatus.RUNNING:
            running.add(event["flow_id"])
        elif event["status"] in {s.value for s in FlowStatus if s.is_final}:
            running.discard(event["flow_id"])
        most = max(most, len(running))
    return most


async def test_runs_in_flight_complete_while_their_partitions_move_between_masters(
    engine_cluster: OwnCluster,
    executor: FlowExecutor,
    runners: list[Runner],
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING, logger="flows.engine")
    limited = _chain("limited_chain", LIMIT)  # all its runs in its flow's partition
    flow_ids = await executor.execute_flows(limited, [{"n": n} for n in range(LIMITED_RUNS)])
    flow_ids += await executor.execute_flows(_chain("free_chain"), [{}] * FREE_RUNS)
    limited_part = executor.keys.partition_of_flow(limited.name)
    by_partition = Counter(executor.keys.partition_of(flow_id) for flow_id in flow_ids)
    busiest_other = max((p for p in by_partition if p != limited_part), key=by_partition.get)
    moving = [limited_part, busiest_other]
    moving_ids = [f for f in flow_ids if executor.keys.partition_of(f) in moving]

    waits = asyncio.create_task(
        executor.wait_for_flows(flow_ids, timeout=WAIT_SECONDS), name="live-waits"
    )
    await _until_subscribed(engine_cluster, [executor.keys.flow_end_channel(f) for f in flow_ids])
    homes = {part: await engine_cluster.owner_of(part.tag) for part in moving}
    moves_under_load = 0
    while not waits.done() and await _unfinished(executor, moving_ids):
        for part in moving:  # on to the next master, then on again, and so round
            await migrate_slot_of(engine_cluster, part.tag)
        moves_under_load += 1
    for part, home in homes.items():  # the layout the rest of the session expects
        await migrate_slot_of(engine_cluster, part.tag, target=home)
    finals = await waits

    states = await executor.store.read_flows(flow_ids)
    steps = [step for flow_id in flow_ids for step in await executor.get_steps(flow_id)]
    assert moves_under_load >= 2, "the runs ended before their slots had moved twice"
    assert [state.status for state in finals] == [FlowStatus.COMPLETED] * len(flow_ids)
    assert finals == states
    assert len(steps) == STEPS * len(flow_ids)
    for step in steps:
        results = [attempt.result for attempt in step.attempts]
        assert results.count("completed") == 1 and "lost" not in results, step
        assert not attempts_overlap(step), step
    assert await _most_running_at_once(executor, limited_part, limited.name) <= LIMIT
    problems = [record.getMessage() for record in caplog.records]
    assert problems == []
