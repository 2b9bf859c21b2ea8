"""Acting on runs from the web: permissions, idempotence, the audit trail, and the archive."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flows import engine_client
from flows.definitions import editing
from flows.engine.builder import Flow, Step, new_flow, new_step
from flows.engine.connections import blocking_client
from flows.engine.statuses import FlowStatus
from flows.models import AuditEntry, FlowDefinition, RunRecord
from flows.runs import launching
from tests.web.background import until_ended

FAILING = Flow("fails", (Step("ok", '"fine"'), Step("broken", 'fail("no")')))


@pytest.fixture
def failed_run(db: None) -> str:
    definition = editing.create_from_flow(FAILING)
    launcher = User.objects.create(username="launcher")
    flow_id = launching.launch(definition, {"n": 1}, launcher).flow_id
    assert until_ended(flow_id) == FlowStatus.FAILED
    return flow_id


def test_viewers_and_operators_may_not_retry(viewer: Client, operator: Client, failed_run: str):
    url = f"/runs/{failed_run}/steps/broken/retry/"

    assert viewer.post(url).status_code == 403
    assert operator.post(url).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.RETRY).exists()


def test_viewers_may_not_cancel_nor_fix(viewer: Client, failed_run: str):
    assert viewer.post(f"/runs/{failed_run}/cancel/").status_code == 403
    assert viewer.get(f"/runs/{failed_run}/steps/broken/fix/").status_code == 403


def test_actions_need_a_post(admin: Client, failed_run: str):
    assert admin.get(f"/runs/{failed_run}/steps/broken/retry/").status_code == 405


def test_a_double_retry_runs_the_step_once_and_says_so(admin: Client, failed_run: str):
    url = f"/runs/{failed_run}/steps/broken/retry/"

    first = admin.post(url, follow=True)
    second = admin.post(url, follow=True)

    assert [str(m) for m in first.context["messages"]] == ["Step broken will run again"]
    assert [str(m) for m in second.context["messages"]] == [
        "Step broken is pending and the run is running"
    ]
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RETRY).count() == 1
    assert until_ended(failed_run) == FlowStatus.FAILED  # the same script fails again


def test_fix_and_resume_patches_the_run_and_records_the_diff(admin: Client, failed_run: str):
    url = f"/runs/{failed_run}/steps/broken/fix/"
    page = admin.get(url)
    form = {"script": 'steps["ok"] + "!"', "timeout": "5", "retries": "0"}

    tested = admin.post(url, {**form, "action": "test"}, headers={"HX-Request": "true"})
    resumed = admin.post(url, {**form, "action": "resume"})

    assert b"fail(&quot;no&quot;)</textarea>" in page.content
    assert b"&quot;ok&quot;: &quot;fine&quot;" in page.content  # what the attempt saw
    assert tested.content.startswith(b'<div id="test-result-fix"')
    assert b"&quot;fine!&quot;" in tested.content
    assert resumed["Location"] == f"/runs/{failed_run}/"
    assert until_ended(failed_run) == FlowStatus.COMPLETED
    entry = AuditEntry.objects.get(action=AuditEntry.Action.FIX_AND_RESUME)
    assert '-fail("no")\n+steps["ok"] + "!"' in entry.details["diff"]


def test_a_bad_script_is_refused_where_it_was_typed(admin: Client, failed_run: str):
    response = admin.post(
        f"/runs/{failed_run}/steps/broken/fix/",
        {"script": "1 +", "timeout": "5", "retries": "0", "action": "resume"},
    )

    assert response.status_code == 200
    assert b"1 +</textarea>" in response.content
    assert b'class="field-error"' in response.content
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.FIX_AND_RESUME).exists()


def test_a_fix_the_definition_could_not_hold_is_refused_before_anything_happens(
    admin: Client, failed_run: str
):
    form = {"script": '"fixed"', "timeout": "5", "retries": str(10**30)}

    response = admin.post(
        f"/runs/{failed_run}/steps/broken/fix/",
        {**form, "save_to_definition": "on", "action": "resume"},
    )

    assert response.status_code == 200
    assert re.search(rb'id="id_retries"[^>]*>\s*<small class="field-error"', response.content)
    assert b'aria-describedby="id_retries_error"' in response.content  # the error it names
    assert b'id="id_retries_error"' in response.content
    assert engine_client.read_run(failed_run).state.status == FlowStatus.FAILED
    definition = FlowDefinition.objects.get(name=FAILING.name)
    assert (definition.version, definition.steps.get(name="broken").retries) == (1, 0)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.FIX_AND_RESUME).exists()


def test_operators_cancel_and_the_audit_trail_shows_it(operator: Client, stripe, archive):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})
    flow_id = AuditEntry.objects.get(action=AuditEntry.Action.LAUNCH).flow_id

    operator.post(f"/runs/{flow_id}/cancel/", follow=True)
    again = operator.post(f"/runs/{flow_id}/cancel/", follow=True)
    page = operator.get(f"/runs/{flow_id}/").content.decode()

    assert "operator</strong> cancelled" in page
    assert "operator</strong> launched" in page
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CANCEL).count() == 1
    assert [str(m) for m in again.context["messages"]] == ["The run is already cancelled"]


def test_a_finished_run_is_still_shown_after_redis_is_flushed(
    viewer: Client, failed_run: str, archive
):
    archive()
    with blocking_client(settings.REDIS_URL) as client:
        client.flushdb()

    runs = viewer.get("/runs/").content.decode()
    run = viewer.get(f"/runs/{failed_run}/").content.decode()

    assert f'id="run-row-{failed_run}"' in runs
    assert 'data-status="failed"' in run
    assert 'id="step-row-broken" data-status="failed"' in run
    assert "&quot;fine&quot;" in run  # the completed step's output, from the archive


def test_bulk_retry_retries_each_selected_failed_run(admin: Client, failed_run: str):
    response = admin.post("/runs/retry/", {"flow_id": [failed_run, "nope"]}, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "Retried 1 of 2 selected runs."
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RETRY).count() == 1


def test_runs_page_queries_do_not_grow_with_runs(viewer: Client):
    def make(count: int) -> None:
        RunRecord.objects.bulk_create(
            RunRecord(
                flow_id=f"{RunRecord.objects.count() + n:032}",
                name="bulk",
                status="completed",
                created_at="2026-01-01T00:00:00Z",
                step_count=3,
                completed_count=3,
            )
            for n in range(count)
        )

    make(3)
    with CaptureQueriesContext(connection) as few:
        viewer.get("/runs/")
    make(80)
    with CaptureQueriesContext(connection) as many:
        second = viewer.get("/runs/")
        older = viewer.get("/runs/", {"cursor": second.context["next_cursor"]})

    assert len(many) == 2 * len(few) <= 2 * 8
    assert len(second.context["runs"]) == 50
    assert len(older.context["runs"]) == 33


def test_fix_and_resume_in_a_graph_keeps_what_the_step_runs_after_and_the_flows_settings(
    admin: Client, db: None
):
    graph = (
        new_flow("graph")
        .allowed_hosts("api.example.com")
        .add_step(new_step("a").script('"a"').build())
        .add_step(new_step("side").script('"side"').after().build())
        .add_step(new_step("broken").script('fail("no")').after("a").backoff(0).build())
        .add_step(
            new_step("join")
            .script('steps["broken"] + steps["side"]')
            .after("broken", "side")
            .build()
        )
        .build()
    )
    flow_id = engine_client.launch(graph, {}, {})
    assert until_ended(flow_id) == FlowStatus.FAILED
    form = {"script": 'steps["a"] + "!"', "timeout": "5", "retries": "0"}

    page = admin.get(f"/runs/{flow_id}/steps/broken/fix/")
    admin.post(f"/runs/{flow_id}/steps/broken/fix/", {**form, "action": "resume"})

    assert b"&quot;a&quot;: &quot;a&quot;" in page.content
    assert until_ended(flow_id) == FlowStatus.COMPLETED
    run = engine_client.read_run(flow_id)
    fixed = run.state.definition.step("broken")
    assert (fixed.after, fixed.backoff_base) == (("a",), 0)
    assert run.state.definition.allowed_hosts == "api.example.com"
    assert {step.step_id: step.output for step in run.steps}["join"] == "a!side"
