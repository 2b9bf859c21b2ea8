"""Pages cost a fixed number of SQL queries however many flows, steps and runs there are."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now

from flows.definitions import editing
from flows.engine.builder import Flow, Step
from flows.models import FlowDefinition, RunRecord


def _flows(count: int, steps: int = 3, start: int = 0) -> list[FlowDefinition]:
    made = []
    for number in range(start, start + count):
        flow = Flow(f"flow{number:04}", tuple(Step(f"s{i}", "1") for i in range(steps)))
        definition = editing.create_from_flow(flow)
        RunRecord.objects.create(
            flow_id=f"run{number}",
            name=definition.name,
            definition=definition,
            status="completed",
            created_at=now(),
        )
        made.append(definition)
    return made


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_flows_list_queries_do_not_grow_with_flows(operator: Client):
    _flows(3)
    few = _queries(operator, "/flows/")
    _flows(57, start=3)

    many = _queries(operator, "/flows/")

    assert many == few
    assert many <= 8


def test_flow_editor_queries_do_not_grow_with_steps(operator: Client):
    small = _flows(1, steps=2)[0]
    large = _flows(1, steps=50, start=1)[0]

    assert _queries(operator, f"/flows/{large.name}/") == _queries(
        operator, f"/flows/{small.name}/"
    )
    # Session, user, its two permission reads, the flow, its steps, its schedules and the runs
    # they started, its webhooks.
    assert _queries(operator, f"/flows/{large.name}/") <= 9
