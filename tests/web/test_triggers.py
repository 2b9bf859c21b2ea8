"""Runs record what started them (manual, api, schedule, webhook): on the run page, as a filter
of the Runs page, and in the rows a live Runs page takes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from flows.models import RunRecord
from flows.runs import launching
from flows.runs.history import RunFilter
from flows.runs.runs_list import LiveRow, RunsList


def _flow_ids(response) -> set[str]:
    return {run.flow_id for run in response.context["runs"]}


def test_a_run_keeps_its_trigger_shown_on_its_page_and_filtered_on_the_runs_page(
    operator: Client, stripe, token_for
):
    manual = operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})
    api = operator.post(
        f"/api/flows/{stripe.name}/runs",
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for('Admin')}"},
    )
    manual_id = manual["Location"].split("/")[-2]
    api_id = api.json()["flow_id"]
    scheduled = launching.launch(
        stripe, {}, User.objects.get(username="operator"), {"kind": "schedule", "name": "nightly"}
    ).flow_id

    page = operator.get(f"/runs/{scheduled}/")

    assert b'<dd class="run-trigger">schedule: nightly</dd>' in page.content
    assert dict(RunRecord.objects.values_list("flow_id", "trigger_kind")) == {
        manual_id: "manual",
        api_id: "api",
        scheduled: "schedule",
    }
    assert _flow_ids(operator.get("/runs/?trigger=api")) == {api_id}
    assert _flow_ids(operator.get("/runs/?trigger=manual")) == {manual_id}
    assert _flow_ids(operator.get("/runs/")) == {manual_id, api_id, scheduled}
    assert b'<option value="webhook">webhook</option>' in operator.get("/runs/").content


def test_a_trigger_of_no_known_kind_is_refused(stripe):
    user = User.objects.create(username="someone")
    with pytest.raises(ValueError, match="a run's trigger is one of manual, api"):
        launching.launch(stripe, {}, user, {"kind": "telepathy"})
    assert not RunRecord.objects.exists()


def test_a_live_runs_page_filtered_by_trigger_takes_only_rows_of_that_trigger():
    page = RunsList.showing(RunFilter(trigger="webhook"), [], page_size=50)

    def row(trigger: str) -> LiveRow:
        return LiveRow("id", "flow", "running", (1.0, "id"), "cursor", "<tr></tr>", trigger)

    assert page.takes(row("webhook"))
    assert not page.takes(row("manual"))
