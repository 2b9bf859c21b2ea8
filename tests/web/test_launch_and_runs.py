from __future__ import annotations

import redis
from django.test import Client

from flows import engine_client
from flows.models import FlowDefinition, FlowRun

HTMX = {"HX-Request": "true"}


def _run_count(redis_url: str) -> int:
    with redis.Redis.from_url(redis_url) as client:
        return client.zcard("flows:runs")


def test_launch_form_has_a_labelled_json_field(operator: Client, stripe):
    response = operator.get(f"/flows/{stripe.name}/launch/")

    assert b'<label for="id_input">Input (JSON)</label>' in response.content


def test_launch_lands_on_the_run_page(operator: Client, stripe, redis_url: str):
    response = operator.post(f"/flows/{stripe.name}/launch/", {"input": '{"currency": "eur"}'})

    run = FlowRun.objects.get()
    assert response["Location"] == f"/runs/{run.flow_id}/"
    state = engine_client.read_run(run.flow_id).state
    assert state.input == {"currency": "eur"}
    assert state.meta == {
        "launched_by": "operator",
        "definition_id": stripe.pk,
        "definition_version": 1,
    }


def test_launch_with_htmx_redirects_the_browser(operator: Client, stripe):
    response = operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"}, headers=HTMX)

    assert response["HX-Redirect"] == f"/runs/{FlowRun.objects.get().flow_id}/"


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
    assert not FlowRun.objects.exists()


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
    run = FlowRun.objects.get()

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


def test_launch_form_starts_from_the_last_runs_input(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": '{"amount": 42}'})

    response = operator.get(f"/flows/{stripe.name}/launch/")

    assert b"&quot;amount&quot;: 42" in response.content
