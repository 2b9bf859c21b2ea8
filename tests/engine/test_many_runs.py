"""One executor under volume: batch launches, shared waits, and thousands of concurrent calls."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from flows.engine import FlowExecutor, FlowStatus, RunNotFound
from flows.engine.connections import async_client
from flows.engine.subscriptions import RESYNC
from tests.engine.flows import indexed_runs, one_step_flow

DOUBLE = one_step_flow("input['n'] * 2", name="double")


@pytest.fixture
def runner_processes(start_runner_process: Callable) -> None:
    """Two runner processes, as a small installation has."""
    for _ in range(2):
        start_runner_process(8, 5.0)


async def _outputs(executor: FlowExecutor, flow_ids: list[str]) -> list:
    return [(await executor.get_step_state(f, "double")).output for f in flow_ids]


async def test_execute_flows_launches_a_run_per_input_and_wait_for_flows_returns_them_in_order(
    executor: FlowExecutor, runner_processes: None
):
    flow_ids = await executor.execute_flows(DOUBLE, [{"n": n} for n in range(1000)])

    states = await executor.wait_for_flows(flow_ids, timeout=120)

    assert len(set(flow_ids)) == 1000
    assert [state.flow_id for state in states] == flow_ids
    assert {state.status for state in states} == {FlowStatus.COMPLETED}
    assert [state.input["n"] for state in states] == list(range(1000))
    assert await _outputs(executor, flow_ids[:50]) == [n * 2 for n in range(50)]


async def test_as_completed_yields_each_run_exactly_once(
    executor: FlowExecutor, runner_processes: None
):
    flow_ids = await executor.execute_flows(DOUBLE, [{"n": n} for n in range(1000)])
    # Some runs have ended before the wait starts, others end while it listens.
    await executor.wait_for_flow(flow_ids[0], timeout=60)

    yielded = Counter([state.flow_id async for state in executor.as_completed(flow_ids, 120)])

    assert yielded == Counter(flow_ids)


async def test_thousands_of_concurrent_launches_on_one_executor_wait_for_connections(
    redis_url: str, runner_processes: None
):
    async with FlowExecutor(redis_url, max_connections=8) as executor:
        flow_ids = await asyncio.gather(
            *(executor.execute_flow(DOUBLE, {"n": n}) for n in range(5000))
        )
        states = await executor.wait_for_flows(flow_ids, timeout=120)

    assert len(set(flow_ids)) == 5000
    assert [state.input["n"] for state in states] == list(range(5000))
    assert {state.status for state in states} == {FlowStatus.COMPLETED}


@pytest.mark.single_server("one pool's cap; a cluster client keeps a pool per node")
async def test_thousands_of_concurrent_waits_share_the_executors_few_connections(
    redis_url: str, runner_processes: None
):
    named = f"{redis_url}{'&' if '?' in redis_url else '?'}client_name=many-waits"
    async with FlowExecutor(named, max_connections=8) as executor:
        flow_ids = await executor.execute_flows(DOUBLE, [{"n": n} for n in range(5000)])

        states = await asyncio.gather(*(executor.wait_for_flow(f, timeout=120) for f in flow_ids))

        async with async_client(redis_url) as client:
            opened = [c for c in await client.client_list() if c["name"] == "many-waits"]
    assert [state.flow_id for state in states] == flow_ids
    assert {state.status for state in states} == {FlowStatus.COMPLETED}
    assert len(opened) <= 8 + 1  # the pool, and the one pub/sub connection all waits share


async def test_a_timeout_names_how_many_runs_had_not_ended(executor: FlowExecutor):
    flow_ids = await executor.execute_flows(DOUBLE, [{"n": 1}, {"n": 2}, {"n": 3}])

    with pytest.raises(TimeoutError, match=r"^3 of 3 runs had not ended after 0.2 s$"):
        await executor.wait_for_flows(flow_ids, timeout=0.2)


@pytest.mark.single_server(
    "kills the one server's subscriber; test_cluster_subscriptions.py kills a master's"
)
async def test_waits_still_end_after_the_subscription_connection_is_killed(
    executor: FlowExecutor, redis_url: str, start_runner_process: Callable
):
    flow_ids = await executor.execute_flows(DOUBLE, [{"n": n} for n in range(20)])
    # Hear the runs' ends first (what the wait listens to), so that the executor's one
    # subscription is up before the kill, and no SSUBSCRIBE is in flight when it comes.
    listener = executor.subscriptions.listener()
    await listener.listen_to(flow_ids, ends_only=True)
    waiting = asyncio.create_task(executor.wait_for_flows(flow_ids, timeout=60))
    async with async_client(redis_url) as client:
        db = client.connection_pool.connection_kwargs.get("db", 0)
        for subscriber in await client.client_list():
            # This database's subscribers (runs' channels are sharded ones: `ssub`): the
            # executor's, and the runners' (none are up yet).
            subscribed = int(subscriber["sub"]) + int(subscriber.get("ssub", 0))
            if subscribed and int(subscriber["db"]) == db:
                await client.client_kill_filter(_id=subscriber["id"])
        start_runner_process(2, 5.0)

        states = await waiting
    heard = [listener.queue.get_nowait() for _ in range(listener.queue.qsize())]
    listener.close()

    assert {state.status for state in states} == {FlowStatus.COMPLETED}
    assert any(event is RESYNC for event in heard)  # told to read again after the reconnect


async def test_a_batch_with_a_bad_input_stores_nothing(executor: FlowExecutor, redis_url: str):
    with pytest.raises(ValueError, match="input must be a JSON object"):
        await executor.execute_flows(DOUBLE, [{"n": 1}, ["not", "an", "object"]])
    with pytest.raises(ValueError, match="2 flows but 1 inputs"):
        await executor.execute_flows([DOUBLE, DOUBLE], [{"n": 1}])

    assert await indexed_runs(executor) == 0


async def test_a_list_of_flows_launches_one_run_each(executor: FlowExecutor):
    other = one_step_flow("'other'", name="other")

    flow_ids = await executor.execute_flows([DOUBLE, other])

    names = [(await executor.get_flow_state(f)).name for f in flow_ids]
    assert names == ["double_flow", "other_flow"]


async def test_waiting_for_an_unknown_run_says_it_is_not_there(executor: FlowExecutor):
    with pytest.raises(RunNotFound):
        await executor.wait_for_flow("0" * 32, timeout=5)


async def test_an_input_json_cannot_hold_is_refused_before_anything_is_stored(
    executor: FlowExecutor, redis_url: str
):
    with pytest.raises(ValueError, match="input cannot be encoded as JSON: Out of range float"):
        await executor.execute_flow(DOUBLE, {"n": float("nan")})

    assert await indexed_runs(executor) == 0
