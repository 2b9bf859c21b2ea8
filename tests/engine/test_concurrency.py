"""Concurrency limits: at most N runs at once, per flow or per input value; the rest wait as
Queued in launch order, or are refused; slots come back whichever way a run ends."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from flows.engine import (
    Flow,
    FlowExecutor,
    FlowStatus,
    LimitReached,
    Runner,
    StepStatus,
    new_flow,
    new_step,
)
from tests.engine.flows import indexed_runs, wait_for_step_status


def _limited(
    runs: int,
    *,
    per: str = "",
    script: str = "mock_api('slow', delay=0.05)\n1",
    when_limited: str = "queue",
    retries: int = 0,
) -> Flow:
    step = new_step("work").script(script).retries(retries).build()
    builder = new_flow("limited").add_step(step).concurrency_limit(runs, per)
    return builder.when_limited(when_limited).build()


async def _flow_events(executor: FlowExecutor) -> list[dict]:
    """Every run-level transition, in the order the engine made them."""
    entries = []
    for part in executor.keys.partitions:  # one server: their ids order them all
        entries += await executor.redis.xrange(part.events)
    entries.sort(key=lambda entry: tuple(map(int, entry[0].split("-"))))
    events = [json.loads(fields["event"]) for _id, fields in entries]
    return [event for event in events if event["kind"] == "flow"]


def _most_at_once(events: list[dict], key=lambda event: "") -> int:
    """The most runs (per `key` of their events) that had started and not ended at any point."""
    going: dict[object, set[str]] = {}
    most = 0
    for event in events:
        runs = going.setdefault(key(event), set())
        if event["status"] == "running":
            runs.add(event["flow_id"])
        elif event["status"] in ("completed", "failed", "cancelled"):
            runs.discard(event["flow_id"])
        most = max(most, len(runs))
    return most


def _start_order(events: list[dict]) -> list[str]:
    started: list[str] = []
    for event in events:
        if event["status"] == "running" and event["flow_id"] not in started:
            started.append(event["flow_id"])
    return started


async def test_twenty_launches_under_a_limit_of_two_on_two_runner_processes(
    executor: FlowExecutor, start_runner_process
):
    start_runner_process(concurrency=4)
    start_runner_process(concurrency=4)
    flow = _limited(2)

    flow_ids = [await executor.execute_flow(flow, {"n": n}) for n in range(20)]
    states = [await executor.get_flow_state(flow_id) for flow_id in flow_ids]
    finals = [await executor.wait_for_flow(flow_id, timeout=60) for flow_id in flow_ids]

    assert [state.status for state in states].count(FlowStatus.QUEUED) >= 16
    assert {final.status for final in finals} == {FlowStatus.COMPLETED}
    events = await _flow_events(executor)
    assert _most_at_once(events) == 2
    assert _start_order(events) == flow_ids  # first launched, first started
    queued = [event["flow_id"] for event in events if event["status"] == "queued"]
    assert set(queued) <= set(flow_ids[2:]) and len(queued) >= 16


async def test_a_limit_per_customer_runs_each_customers_runs_one_at_a_time(
    executor: FlowExecutor, start_runner_process
):
    start_runner_process(concurrency=6)
    flow = _limited(1, per='input["order"]["customer"]')
    inputs = [{"order": {"customer": customer}} for _ in range(4) for customer in ("a", "b", 7)]

    flow_ids = [await executor.execute_flow(flow, one) for one in inputs]
    finals = [await executor.wait_for_flow(flow_id, timeout=60) for flow_id in flow_ids]

    assert {final.status for final in finals} == {FlowStatus.COMPLETED}
    events = await _flow_events(executor)
    launched_as = {event["flow_id"]: event["status"] for event in reversed(events)}
    # Each customer's first run started at once; the others waited their turn.
    assert [launched_as[flow_id] for flow_id in flow_ids] == ["created"] * 3 + ["queued"] * 9
    customer_of = {
        flow_id: one["order"]["customer"] for flow_id, one in zip(flow_ids, inputs, strict=True)
    }
    assert _most_at_once(events, key=lambda event: customer_of[event["flow_id"]]) == 1
    # Other customers were not held up: more than one run went at once overall.
    assert _most_at_once(events) > 1
    assert _start_order(events)[:3] == flow_ids[:3]


async def test_a_flow_wide_and_a_per_key_limit_hold_together(executor: FlowExecutor, runner):
    step = new_step("work").script("mock_api('slow', delay=0.05)\n1").build()
    flow = (
        new_flow("both")
        .add_step(step)
        .concurrency_limit(2)
        .concurrency_limit(1, per='input["customer"]')
        .build()
    )
    inputs = [{"customer": customer} for customer in "aabbcca"]

    flow_ids = [await executor.execute_flow(flow, one) for one in inputs]
    finals = [await executor.wait_for_flow(flow_id, timeout=60) for flow_id in flow_ids]

    assert {final.status for final in finals} == {FlowStatus.COMPLETED}
    events = await _flow_events(executor)
    customer_of = {flow_id: one["customer"] for flow_id, one in zip(flow_ids, inputs, strict=True)}
    assert _most_at_once(events) == 2
    assert _most_at_once(events, key=lambda event: customer_of[event["flow_id"]]) == 1


async def test_the_reject_policy_refuses_a_launch_over_the_limit_and_stores_nothing(
    executor: FlowExecutor,
):
    flow = _limited(1, when_limited="reject")
    first = await executor.execute_flow(flow)
    runs_before = await indexed_runs(executor)

    with pytest.raises(LimitReached) as refusal:
        await executor.execute_flow(flow, idempotency_key="order-1")

    assert str(refusal.value) == (
        "flow 'limited' allows at most 1 run at once, all taken: "
        "launch again once one of its runs ends"
    )
    assert await indexed_runs(executor) == runs_before
    # A refused launch does not use up its idempotency key.
    await executor.cancel_flow(first)
    again, created = await executor.launch(flow, idempotency_key="order-1")
    assert created and again != first


async def test_a_batch_under_the_reject_policy_says_which_runs_it_stored(executor: FlowExecutor):
    flow = _limited(3, when_limited="reject")

    with pytest.raises(LimitReached) as refusal:
        await executor.execute_flows(flow, [{"n": n} for n in range(5)])

    assert str(refusal.value).startswith("2 of 5 runs refused: flow 'limited' allows at most 3")
    assert len(refusal.value.started) == 3
    states = [await executor.get_flow_state(flow_id) for flow_id in refusal.value.started]
    assert [state.input["n"] for state in states] == [0, 1, 2]


async def test_a_run_missing_the_limits_key_is_refused_before_anything_is_stored(
    executor: FlowExecutor,
):
    flow = _limited(1, per='input["customer"]')

    with pytest.raises(ValueError, match=r"the input has no input\[\"customer\"\]"):
        await executor.execute_flow(flow, {"client": "a"})

    assert await indexed_runs(executor) == 0


async def test_cancelling_a_running_run_starts_the_next_and_a_queued_one_leaves_the_line(
    executor: FlowExecutor, runner: Runner
):
    flow = _limited(1, script="mock_api('slow', delay=20)\n1")
    first, second, third = [await executor.execute_flow(flow) for _ in range(3)]
    await wait_for_step_status(executor, first, "work", StepStatus.RUNNING)

    assert (await executor.cancel_flow(second)).done  # queued: it just leaves the line
    assert (await executor.get_flow_state(third)).status == FlowStatus.QUEUED
    assert (await executor.cancel_flow(first)).done

    await wait_for_step_status(executor, third, "work", StepStatus.RUNNING)
    assert (await executor.get_flow_state(second)).status == FlowStatus.CANCELLED
    await executor.cancel_flow(third)
    assert (await executor.wait_for_flow(third, timeout=30)).status == FlowStatus.CANCELLED


async def test_a_failed_run_frees_its_slot_and_its_retry_waits_for_one(
    executor: FlowExecutor, runner: Runner
):
    failing = _limited(1, script="fail('declined')")
    failed = await executor.execute_flow(failing)
    assert (await executor.wait_for_flow(failed, timeout=30)).status == FlowStatus.FAILED
    # The next run gets the slot the failed run gave back.
    next_run = await executor.execute_flow(failing)
    assert (await executor.wait_for_flow(next_run, timeout=30)).status == FlowStatus.FAILED

    blocker = await executor.execute_flow(_limited(1, script="mock_api('slow', delay=20)\n1"))
    await wait_for_step_status(executor, blocker, "work", StepStatus.RUNNING)
    assert (await executor.retry_step(failed, "work")).done

    assert (await executor.get_flow_state(failed)).status == FlowStatus.QUEUED
    await executor.cancel_flow(blocker)
    assert (await executor.wait_for_flow(failed, timeout=30)).status == FlowStatus.FAILED
    work = await executor.get_step_state(failed, "work")
    assert work.attempt_count == 2


async def test_a_retry_over_a_full_limit_is_refused_when_the_flow_rejects(
    executor: FlowExecutor, runner: Runner
):
    failing = _limited(1, script="fail('declined')", when_limited="reject")
    failed = await executor.execute_flow(failing)
    await executor.wait_for_flow(failed, timeout=30)
    blocker = await executor.execute_flow(
        _limited(1, script="mock_api('slow', delay=20)\n1", when_limited="reject")
    )
    await wait_for_step_status(executor, blocker, "work", StepStatus.RUNNING)

    result = await executor.retry_step(failed, "work")

    assert not result.done
    assert result.message == (
        "the flow allows at most 1 at once, all taken: retry once one of its runs ends"
    )
    assert (await executor.get_flow_state(failed)).status == FlowStatus.FAILED
    await executor.cancel_flow(blocker)


async def test_a_runner_killed_mid_step_gives_the_slot_back_through_its_lease(
    executor: FlowExecutor, start_runner_process
):
    doomed = start_runner_process(concurrency=1, lease_seconds=1.0)
    flow = _limited(1, script="mock_api('slow', delay=2)\n1")
    first, second = [await executor.execute_flow(flow) for _ in range(2)]
    await wait_for_step_status(executor, first, "work", StepStatus.RUNNING)

    doomed.send_signal(signal.SIGKILL)
    await asyncio.to_thread(doomed.wait)
    start_runner_process(concurrency=1, lease_seconds=1.0)

    assert (await executor.wait_for_flow(first, timeout=60)).status == FlowStatus.COMPLETED
    assert (await executor.wait_for_flow(second, timeout=60)).status == FlowStatus.COMPLETED
    events = await _flow_events(executor)
    assert _most_at_once(events) == 1


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda b: b.concurrency_limit(0), "a concurrency limit must be 1 to 100,000 runs, got 0"),
        (lambda b: b.concurrency_limit(2).concurrency_limit(3), "two concurrency limits for"),
        (
            lambda b: b.concurrency_limit(1, per="customer"),
            "the key 'customer' must be input followed by lookups",
        ),
        (
            lambda b: b.concurrency_limit(1, per='input["a"] + input["b"]'),
            "must be input followed by lookups",
        ),
        (lambda b: b.when_limited("drop"), "runs must queue or be rejected, not 'drop'"),
    ],
)
def test_the_builder_refuses_limits_that_cannot_hold(build, message):
    builder = new_flow("f").add_step(new_step("s").script("1").build())

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        build(builder).build()


def test_a_flow_with_limits_keeps_them_through_its_json():
    flow = _limited(2, per='input["customer"]', when_limited="reject")

    assert Flow.from_dict(json.loads(json.dumps(flow.to_dict()))) == flow
    assert (
        "concurrency_limits"
        not in new_flow("f").add_step(new_step("s").script("1").build()).build().to_dict()
    )
