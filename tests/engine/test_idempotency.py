"""Idempotent launches: one key, one run, however many launches race, within the key's window."""

from __future__ import annotations

import asyncio

import pytest

from flows.engine import FlowExecutor
from tests.engine.flows import chain_flow, indexed_runs, one_step_flow


async def test_fifty_concurrent_launches_with_one_key_start_exactly_one_run(
    executor: FlowExecutor,
):
    flow = chain_flow(2)
    before = await indexed_runs(executor)

    launched = await asyncio.gather(
        *(executor.launch(flow, {"n": n}, idempotency_key="order-42") for n in range(50))
    )

    flow_ids = {flow_id for flow_id, _created in launched}
    assert len(flow_ids) == 1
    assert [created for _flow_id, created in launched].count(True) == 1
    assert await indexed_runs(executor) == before + 1
    (flow_id,) = flow_ids
    assert await executor.execute_flow(flow, idempotency_key="order-42") == flow_id


async def test_keys_are_per_flow_and_runs_without_a_key_are_all_new(executor: FlowExecutor):
    first, second = one_step_flow("1", name="first"), one_step_flow("1", name="second")

    one = await executor.execute_flow(first, idempotency_key="k")
    other_flow = await executor.execute_flow(second, idempotency_key="k")
    unkeyed = {await executor.execute_flow(first) for _ in range(3)}

    assert one != other_flow
    assert len(unkeyed) == 3 and one not in unkeyed


async def test_a_key_starts_a_new_run_once_its_window_has_passed(redis_url: str):
    async with FlowExecutor(redis_url, idempotency_seconds=1) as executor:
        flow = one_step_flow("1")
        first = await executor.execute_flow(flow, idempotency_key="nightly")
        again = await executor.execute_flow(flow, idempotency_key="nightly")
        await asyncio.sleep(1.2)
        later = await executor.execute_flow(flow, idempotency_key="nightly")

    assert again == first
    assert later != first


@pytest.mark.parametrize("key", ["", "x" * 256, "line\nbreak"])
async def test_a_key_that_is_empty_too_long_or_holds_control_characters_is_refused(
    executor: FlowExecutor, key: str
):
    with pytest.raises(ValueError, match="idempotency key must"):
        await executor.execute_flow(one_step_flow("1"), idempotency_key=key)
