"""Concurrency limits in the builder, the launch form, the API, webhooks and import/export. No
runner runs here: a launched run keeps its slot, so the next launch finds the limit full."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from flows import engine_client
from flows.definitions import editing
from flows.definitions.portable import export_python
from flows.engine.builder import Flow, new_flow, new_step
from flows.engine.statuses import FlowStatus
from flows.models import AuditEntry, FlowDefinition, RunRecord, WebhookTrigger
from flows.webhooks import triggers

HTMX = {"HX-Request": "true"}


def _limited_flow(when_limited: str = "queue", per: str = "") -> Flow:
    builder = new_flow("payments").add_step(new_step("charge").script("1").build())
    if per:
        builder.concurrency_limit(1, per=per)
    else:
        builder.concurrency_limit(1)
    return builder.when_limited(when_limited).build()


@pytest.fixture
def limited(db: None):
    def make(when_limited: str = "queue", per: str = "") -> FlowDefinition:
        return editing.create_from_flow(_limited_flow(when_limited, per))

    return make


def _save(client: Client, flow: FlowDefinition, **fields: object):
    data = {"name": flow.name, "description": "", "when_limited": "queue", **fields}
    return client.post(f"/flows/{flow.name}/save/", data, headers=HTMX)


def test_the_flow_form_saves_limits_that_the_engine_flow_carries(operator: Client, stripe):
    response = _save(
        operator,
        stripe,
        concurrency_limit="3",
        key_concurrency_limit="1",
        concurrency_key='input["customer"]',
        when_limited="reject",
    )

    assert b"Saved." in response.content
    stripe.refresh_from_db()
    flow = stripe.to_flow()
    assert [limit.describe() for limit in flow.concurrency_limits] == [
        "at most 3 runs at once",
        'at most 1 run at once per input["customer"]',
    ]
    assert flow.when_limited == "reject"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"concurrency_key": "customer"}, "concurrency_key", "must be input followed by lookups"),
        ({"key_concurrency_limit": "2"}, "concurrency_key", "Give the input field to limit"),
        ({"concurrency_key": 'input["c"]'}, "key_concurrency_limit", "Give how many runs"),
        ({"concurrency_limit": "0"}, "concurrency_limit", "greater than or equal to 1"),
    ],
)
def test_a_bad_limit_is_a_field_error_and_the_text_stays(
    operator: Client, stripe, fields, field, message
):
    response = _save(operator, stripe, **fields)

    content = response.content.decode()
    assert message in content
    assert f'id="id_{field}"' in content
    for value in fields.values():
        assert f'value="{value}"'.replace('"c"', "&quot;c&quot;") in content
    stripe.refresh_from_db()
    assert stripe.version == 1


def test_a_launch_over_a_rejecting_limit_is_a_form_message(operator: Client, limited):
    flow = limited("reject")
    assert operator.post(f"/flows/{flow.name}/launch/", {"input": "{}"}).status_code == 302

    response = operator.post(f"/flows/{flow.name}/launch/", {"input": '{"n": 2}'})

    assert response.status_code == 200
    assert (
        "Not launched: Flow &#x27;payments&#x27; allows at most 1 run at once, all taken: "
        "launch again once one of its runs ends." in response.content.decode()
    )
    assert "{&quot;n&quot;: 2}" in response.content.decode()  # the input stays
    assert RunRecord.objects.count() == 1


def test_a_queued_run_says_so_on_its_page(operator: Client, limited):
    flow = limited()
    operator.post(f"/flows/{flow.name}/launch/", {"input": "{}"})

    response = operator.post(f"/flows/{flow.name}/launch/", {"input": "{}"}, follow=True)

    content = response.content.decode()
    assert 'class="badge status-queued">queued<' in content
    assert "Queued: the flow allows at most 1 run at once; this run starts when a slot frees" in (
        content
    )


def _api_launch(client: Client, token: str, name: str, body: object):
    return client.post(
        f"/api/flows/{name}/runs",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_api_answers_429_over_a_rejecting_limit(client: Client, limited, token_for):
    flow = limited("reject", per='input["customer"]')
    token = token_for("Operator")
    assert _api_launch(client, token, flow.name, {"customer": "a"}).status_code == 202
    assert _api_launch(client, token, flow.name, {"customer": "b"}).status_code == 202

    refused = _api_launch(client, token, flow.name, {"customer": "a"})
    missing = _api_launch(client, token, flow.name, {"client": "a"})

    assert refused.status_code == 429
    assert refused.json() == {
        "error": "flow 'payments' allows at most 1 run at once per input[\"customer\"], all "
        "taken: launch again once one of its runs ends"
    }
    assert missing.status_code == 400
    assert 'the input has no input["customer"]' in missing.json()["error"]
    assert RunRecord.objects.count() == 2


def test_a_batch_over_a_rejecting_limit_says_which_runs_started(client: Client, limited, token_for):
    flow = limited("reject")

    response = _api_launch(client, token_for("Operator"), flow.name, {"inputs": [{}, {}, {}]})

    assert response.status_code == 429
    body = response.json()
    assert body["error"].startswith("2 of 3 runs refused: flow 'payments' allows at most 1 run")
    (started,) = body["runs"]
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LAUNCH).count() == 1
    assert engine_client.read_run(started["flow_id"]).state.status == FlowStatus.CREATED


def test_the_api_queues_over_a_queueing_limit(client: Client, limited, token_for):
    flow = limited()
    token = token_for("Operator")
    _api_launch(client, token, flow.name, {})

    response = _api_launch(client, token, flow.name, {})

    assert response.status_code == 202
    status = client.get(response.json()["status_url"], headers={"Authorization": f"Bearer {token}"})
    assert status.json()["status"] == "queued"


def test_a_webhook_over_a_rejecting_limit_answers_429(client: Client, limited, make_user):
    flow = limited("reject")
    issued = triggers.create(
        WebhookTrigger(flow=flow, label="shop"), make_user("Operator"), signed=False
    )
    hook = f"/hooks/{issued.token}"
    assert client.post(hook, "{}", content_type="application/json").status_code == 202

    response = client.post(hook, "{}", content_type="application/json")

    assert response.status_code == 429
    assert "allows at most 1 run at once" in response.json()["error"]


def test_limits_survive_export_and_import_as_json_and_python(operator: Client, limited):
    flow = limited("reject", per='input["customer"]')
    exported = operator.get(f"/flows/{flow.name}/export.json").content.decode()
    python = export_python(flow)
    flow.delete()

    response = operator.post("/flows/import/", {"definition": exported})

    assert response.status_code == 302
    imported = FlowDefinition.objects.get(name="payments")
    assert imported.to_flow() == _limited_flow("reject", per='input["customer"]')
    assert ".concurrency_limit(1, per='input[\"customer\"]')" in python
    assert ".when_limited('reject')" in python
    namespace: dict = {}
    exec(python, namespace)
    assert namespace["flow"] == imported.to_flow()
