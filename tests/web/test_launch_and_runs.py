from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from flows import engine_client
from flows.engine import Flow, Step
from flows.engine.connections import blocking_client
from flows.models import FlowDefinition, RunRecord
from flows.runs import archiver, records
from tests.web.background import until_ended

HTMX = {"HX-Request": "true"}


def _run_count(redis_url: str) -> int:
    with blocking_client(redis_url) as client:
        return client.zcard("flows:runs")


def test_launch_form_has_a_labelled_json_field(operator: Client, stripe):
    response = operator.get(f"/flows/{stripe.name}/launch/")

    assert b'<label for="id_input">Input (JSON)</label>' in response.content


def test_launch_lands_on_the_run_page(operator: Client, stripe, redis_url: str):
    response = operator.post(f"/flows/{stripe.name}/launch/", {"input": '{"currency": "eur"}'})

    run = RunRecord.objects.get()
    assert response["Location"] == f"/runs/{run.flow_id}/"
    state = engine_client.read_run(run.flow_id).state
    assert state.input == {"currency": "eur"}
    assert state.meta == {
        "launched_by": "operator",
        "definition_id": stripe.pk,
        "definition_version": 1,
        "trigger": {"kind": "manual"},
    }


def test_launch_with_htmx_redirects_the_browser(operator: Client, stripe):
    response = operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"}, headers=HTMX)

    assert response["HX-Redirect"] == f"/runs/{RunRecord.objects.get().flow_id}/"


def test_invalid_json_is_rejected_inline_and_nothing_is_launched(
    operator: Client, stripe, redis_url: str
):
    response = operator.post(
        f"/flows/{stripe.name}/launch/", {"input": '{"currency": eur}'}, headers=HTMX
    )

    assert response.content.lstrip().startswith(b'<form id="launch-form"')
    assert b"Input is not valid JSON: line 1, column 14: Expecting value" in response.content
    assert b"{&quot;currency&quot;: eur}</textarea>" in response.content
    assert _run_count(redis_url) == 0
    assert not RunRecord.objects.exists()


def test_input_that_is_not_an_object_is_rejected(operator: Client, stripe, redis_url: str):
    response = operator.post(f"/flows/{stripe.name}/launch/", {"input": "[1, 2]"})

    assert b"Input must be a JSON object" in response.content
    assert b"not list" in response.content
    assert _run_count(redis_url) == 0


def test_a_flow_without_steps_cannot_launch(operator: Client, redis_url: str):
    FlowDefinition.objects.create(name="empty")

    response = operator.post("/flows/empty/launch/", {"input": "{}"})

    assert b"This flow cannot run yet: flow &#x27;empty&#x27; has no steps" in response.content
    assert _run_count(redis_url) == 0


def test_run_page_shows_state_and_steps(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})
    run = RunRecord.objects.get()

    response = operator.get(f"/runs/{run.flow_id}/")

    content = response.content.decode()
    assert 'id="step-row-stripe_config"' in content
    assert 'id="step-row-create_product"' in content
    assert "status-created" in content or "status-running" in content
    assert "operator" in content


def test_unknown_run_is_404(operator: Client):
    assert operator.get("/runs/nope/").status_code == 404


def test_runs_list_shows_recent_runs_with_status(operator: Client, stripe, archive):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})
    archive()

    response = operator.get("/runs/")

    assert b"stripe_payment_request" in response.content
    assert response.context["runs"][0].status in {"created", "running"}


def test_a_launched_run_is_recorded_at_once_as_the_archiver_would(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})

    record = RunRecord.objects.get()
    state = engine_client.read_run(record.flow_id).state
    assert (record.name, record.definition, record.definition_version) == (stripe.name, stripe, 1)
    assert record.launched_by == "operator"
    assert (record.status, record.step_count) == ("created", 3)
    assert record.created_at == state.created_at
    assert records.archived_run(record).state.flow_id == record.flow_id
    assert f'id="run-row-{record.flow_id}"' in operator.get("/runs/").content.decode()


def test_the_archiver_updates_a_launched_runs_record_and_keeps_who_launched_it(
    operator: Client, stripe, archive
):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})
    launched = RunRecord.objects.get()
    engine_client.cancel_run(launched.flow_id)

    archive()

    record = RunRecord.objects.get()
    assert (record.pk, record.status) == (launched.pk, "cancelled")
    assert (record.launched_by, record.definition, record.definition_version) == (
        "operator",
        stripe,
        1,
    )
    assert record.created_at == launched.created_at


def test_recording_a_launch_the_archiver_already_archived_keeps_its_row(stripe, archive):
    meta = {"launched_by": "operator", "definition_id": stripe.pk, "definition_version": 1}
    flow_id = engine_client.launch(stripe.to_flow(), {}, meta)
    engine_client.cancel_run(flow_id)
    archive()
    archived = RunRecord.objects.get()

    record = records.record_launched_run(flow_id)

    assert (record.pk, record.status, record.launched_by) == (archived.pk, "cancelled", "operator")
    assert RunRecord.objects.count() == 1


def test_a_going_run_has_its_listing_archived_and_an_ended_one_its_steps_too(stripe, archive):
    flow_id = engine_client.launch(stripe.to_flow(), {}, {})
    archive()
    going = RunRecord.objects.get()
    engine_client.cancel_run(flow_id)

    archive()

    ended = RunRecord.objects.get()
    assert (going.status, going.step_count, records.archived_run(going).steps) == ("created", 3, [])
    # Enough to render, should Redis lose the run.
    assert records.archived_run(going).state.flow_id == flow_id
    assert ended.status == "cancelled"
    assert [step.status for step in records.archived_run(ended).steps] == ["cancelled"] * 3


def test_a_backlog_is_archived_and_told_a_chunk_at_a_time(stripe, transactional_db, monkeypatch):
    monkeypatch.setattr(archiver, "CHUNK", 2)
    launched = {engine_client.launch(stripe.to_flow(), {}, {}) for _ in range(3)}
    told: list[set[str]] = []

    async def tell(_client, records: list[RunRecord]) -> None:
        told.append({record.flow_id for record in records})

    async def archive_once() -> int:
        service = archiver.Archiver(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX, tell)
        try:
            return await service.archive_batch()
        finally:
            await service.client.aclose()

    taken = async_to_sync(archive_once)()

    assert taken == 3
    assert [len(chunk) for chunk in told] == [2, 1]
    assert set().union(*told) == launched
    assert set(RunRecord.objects.values_list("flow_id", flat=True)) == launched
    assert async_to_sync(archive_once)() == 0  # all forgotten once saved


def test_launch_form_starts_from_the_last_runs_input(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": '{"amount": 42}'})

    response = operator.get(f"/flows/{stripe.name}/launch/")

    assert b"&quot;amount&quot;: 42" in response.content


def test_the_relaunch_form_shows_the_last_input_as_the_run_page_does(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": '{"city": "Zürich"}'})
    run_page = operator.get(RunRecord.objects.get().get_absolute_url())

    response = operator.get(f"/flows/{stripe.name}/launch/")

    assert "&quot;city&quot;: &quot;Zürich&quot;" in response.content.decode()
    assert "&quot;city&quot;: &quot;Zürich&quot;" in run_page.content.decode()


def test_an_archived_run_keeps_its_outputs_key_order_and_every_character_of_its_logs(archive):
    flow = Flow("raw", (Step("one", "log('a\\x00b')\n{'b': 1, 'a': {'z': 0, 'y': 1}}"),))
    flow_id = engine_client.launch(flow, {"d": 1, "c": 2}, {})
    until_ended(flow_id)

    archive()

    run = records.archived_run(RunRecord.objects.get())
    assert run == engine_client.read_run(flow_id)  # as a live run renders
    assert list(run.state.input) == ["d", "c"]
    assert list(run.steps[0].output) == ["b", "a"]
    assert list(run.steps[0].output["a"]) == ["z", "y"]
    assert run.steps[0].logs == ["a\x00b"]
