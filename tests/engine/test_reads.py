"""The reads the web app makes of runs: typed, in at most two round trips, blocking or awaited
alike; a run's versioned dict form; and the events nobody watches, skipped unread."""

from __future__ import annotations

import json

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus
from flows.engine.reads import RunReader, Steps
from flows.engine.state import RUN_DICT_VERSION, RunSnapshot
from flows.engine.watches import RUN_PAGE, Watches
from tests.engine.flows import chain_flow, one_step_flow


@pytest.fixture
def reader(redis_url: str):
    reader = RunReader(redis_url)
    yield reader
    reader.close()


async def test_a_run_is_read_with_its_steps_in_its_definitions_order(
    executor: FlowExecutor, reader: RunReader
):
    flow_id = await executor.execute_flow(chain_flow(3), {"n": 1})

    (awaited,) = await executor.read_runs([flow_id])
    blocking = reader.read_run(flow_id)

    assert awaited == blocking
    assert awaited.state == await executor.get_flow_state(flow_id)
    assert awaited.steps == await executor.get_steps(flow_id)
    assert [step.step_id for step in awaited.steps] == ["s0", "s1", "s2"]


async def test_runs_redis_no_longer_holds_are_left_out_and_the_rest_keep_their_order(
    executor: FlowExecutor, reader: RunReader
):
    first, second = await executor.execute_flows(one_step_flow("1"), [{}, {}])

    runs = await executor.read_runs([second, "gone", first])

    assert [run.state.flow_id for run in runs] == [second, first]
    assert reader.read_run("gone") is None
    assert reader.read_runs([]) == []


async def test_only_ended_runs_come_with_their_steps_when_asked(executor: FlowExecutor):
    going, ended = await executor.execute_flows(chain_flow(2), [{}, {}])
    await executor.cancel_flow(ended)

    runs = await executor.read_runs([going, ended], steps=Steps.OF_ENDED_RUNS)

    assert [(run.state.status, len(run.steps)) for run in runs] == [
        (FlowStatus.CREATED, 0),
        (FlowStatus.CANCELLED, 2),
    ]


async def test_only_the_steps_named_for_a_run_come_with_it(
    executor: FlowExecutor, reader: RunReader
):
    named, unnamed = await executor.execute_flows(chain_flow(3), [{}, {}])
    steps = {named: ["s2", "s0", "missing"]}

    runs = reader.read_runs([named, unnamed], steps=steps)

    assert [[step.step_id for step in run.steps] for run in runs] == [["s2", "s0"], []]
    assert runs == await executor.read_runs([named, unnamed], steps=steps)


async def test_statuses_are_read_for_the_runs_redis_holds(
    executor: FlowExecutor, reader: RunReader
):
    going, cancelled = await executor.execute_flows(one_step_flow("1"), [{}, {}])
    await executor.cancel_flow(cancelled)

    assert reader.statuses([going, cancelled, "gone"]) == {
        going: FlowStatus.CREATED,
        cancelled: FlowStatus.CANCELLED,
    }


async def test_a_run_comes_back_from_its_dict_as_it_was_read(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(one_step_flow("log('hi')\n{'b': 1, 'a': [2]}"), {"z": 0})
    await executor.wait_for_flow(flow_id, timeout=30)
    (run,) = await executor.read_runs([flow_id])

    stored = json.loads(json.dumps(run.to_dict()))

    assert stored["version"] == RUN_DICT_VERSION
    assert RunSnapshot.from_dict(stored) == run
    assert run.steps[0].status == StepStatus.COMPLETED
    assert run.steps[0].attempts[0].finished_at is not None


async def test_a_run_archived_before_flows_branched_still_reads(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(one_step_flow("1"))
    await executor.wait_for_flow(flow_id, timeout=30)
    (run,) = await executor.read_runs([flow_id])
    version_1 = run.to_dict() | {"version": 1}
    del version_1["flow"]["running_steps"]

    read = RunSnapshot.from_dict(json.loads(json.dumps(version_1)))

    assert read.state.running_steps == []
    assert read == run


def test_a_run_dict_of_an_unknown_version_is_refused():
    with pytest.raises(ValueError, match="form version 99 is not readable"):
        RunSnapshot.from_dict({"version": 99, "flow": {}, "steps": []})


async def test_unless_a_run_page_is_watched_the_events_are_skipped_unread(
    executor: FlowExecutor, reader: RunReader
):
    events = executor.event_reader("test-live")
    watches = Watches(partitions=executor.keys.partition_count, expire_seconds=60)
    await events.ensure_group()
    await executor.execute_flow(one_step_flow("1"))  # a run nobody watches

    skipped = not await events.skip_unless_watched(watches.since())
    after_skip = await events.read(block_ms=None)
    seen = await executor.execute_flow(one_step_flow("1"))
    watches.join(reader.client, RUN_PAGE, seen, "group|channel")
    watched = await events.skip_unless_watched(watches.since())
    read = await events.read(block_ms=None)
    await events.leave()

    assert (skipped, after_skip) == (True, [])
    assert watched
    assert [event["flow_id"] for _id, event in read] == [seen]


async def test_watchers_count_until_they_leave_or_expire(executor: FlowExecutor, reader: RunReader):
    watches = Watches(partitions=executor.keys.partition_count, expire_seconds=60)
    watches.join(reader.client, "runs", "", "a|1")
    watches.join(reader.client, "runs", "", "b|2")
    watches.leave(reader.client, "runs", "", "b|2")

    counted = await watches.watchers_by_page(executor.redis, [("runs", ""), ("run", "x")])
    expired = await Watches(
        partitions=executor.keys.partition_count, expire_seconds=0
    ).watchers_by_page(executor.redis, [("runs", "")])

    assert counted == [["a|1"], []]
    assert expired == [[]]
