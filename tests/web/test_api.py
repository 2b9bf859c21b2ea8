from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from flows import engine_client
from flows.engine import FlowExecutor
from flows.engine.connections import blocking_client
from flows.models import AuditEntry, RunRecord


def _launch(client: Client, token: str | None, name: str, body: str = "{}", **headers: str):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(
        f"/api/flows/{name}/runs", body, content_type="application/json", headers=headers
    )


def test_launch_answers_202_with_the_run_id_and_url(client: Client, stripe, token_for):
    response = _launch(client, token_for("Operator"), stripe.name, '{"currency": "eur"}')

    assert response.status_code == 202
    body = response.json()
    run = RunRecord.objects.get()
    assert body["flow_id"] == run.flow_id
    assert body["url"] == f"http://testserver/runs/{run.flow_id}/"
    assert body["status_url"] == f"http://testserver/api/runs/{run.flow_id}"
    assert run.launched_by == "operator"


def test_an_idempotency_key_launches_once_and_answers_again_with_that_run(
    client: Client, stripe, token_for
):
    token = token_for("Operator")

    first = _launch(client, token, stripe.name, '{"n": 1}', **{"Idempotency-Key": "order-7"})
    again = _launch(client, token, stripe.name, '{"n": 2}', **{"Idempotency-Key": "order-7"})
    other = _launch(client, token, stripe.name, '{"n": 3}', **{"Idempotency-Key": "order-8"})

    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json() == first.json()
    assert other.json()["flow_id"] != first.json()["flow_id"]
    assert RunRecord.objects.count() == 2
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LAUNCH).count() == 2


def test_a_bad_idempotency_key_is_a_400_and_launches_nothing(client: Client, stripe, token_for):
    token = token_for("Operator")

    too_long = _launch(client, token, stripe.name, **{"Idempotency-Key": "k" * 256})
    on_a_batch = _launch(
        client, token, stripe.name, '{"inputs": [{}]}', **{"Idempotency-Key": "batch"}
    )

    assert too_long.status_code == 400
    assert too_long.json() == {"error": "an idempotency key must be 1 to 255 characters"}
    assert on_a_batch.status_code == 400
    assert "not for a batch" in on_a_batch.json()["error"]
    assert not RunRecord.objects.exists()


def test_missing_token_is_401_with_a_json_error(client: Client, stripe):
    response = _launch(client, None, stripe.name)

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]
    assert response["WWW-Authenticate"] == 'Bearer realm="Flowsite"'


def test_wrong_token_is_401_saying_the_token_is_invalid(client: Client, stripe, token_for):
    token_for("Operator")

    response = _launch(client, "fst_not-a-real-token", stripe.name)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Flowsite", error="invalid_token"'


def test_a_body_over_the_request_cap_is_a_json_413(client: Client, stripe, token_for):
    body = '{"a": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'

    response = _launch(client, token_for("Operator"), stripe.name, body)

    assert response.status_code == 413
    assert response.json() == {"error": "the body is over the 2,621,440 bytes a request may have"}
    assert not RunRecord.objects.exists()


def test_a_viewer_may_not_launch(client: Client, stripe, token_for):
    response = _launch(client, token_for("Viewer"), stripe.name)

    assert response.status_code == 403
    assert response.json() == {"error": "your account lacks the permission flows.launch_flow"}
    assert not RunRecord.objects.exists()


def test_unknown_flow_is_404(client: Client, db: None, token_for):
    response = _launch(client, token_for("Operator"), "nope")

    assert response.status_code == 404
    assert response.json() == {"error": "no flow named 'nope'"}


def test_bad_json_is_400(client: Client, stripe, token_for):
    response = _launch(client, token_for("Operator"), stripe.name, "{oops")

    assert response.status_code == 400
    assert response.json()["error"].startswith("the body is not valid JSON")


def test_input_must_be_an_object(client: Client, stripe, token_for):
    response = _launch(client, token_for("Operator"), stripe.name, "[1]")

    assert response.status_code == 400
    assert response.json() == {"error": "the input must be a JSON object, not list"}


def test_get_on_the_launch_endpoint_is_405(client: Client, stripe, token_for):
    response = client.get(
        f"/api/flows/{stripe.name}/runs",
        headers={"Authorization": f"Bearer {token_for('Operator')}"},
    )

    assert response.status_code == 405
    assert response.json() == {"error": "use POST"}


def test_run_state_has_the_run_and_its_steps(client: Client, stripe, token_for):
    token = token_for("Operator")
    flow_id = _launch(client, token, stripe.name, '{"a": 1}').json()["flow_id"]

    response = client.get(f"/api/runs/{flow_id}", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    body = response.json()
    assert body["flow_id"] == flow_id
    assert body["name"] == "stripe_payment_request"
    assert body["input"] == {"a": 1}
    assert body["meta"]["launched_by"] == "operator"
    assert [step["step_id"] for step in body["steps"]] == [
        "stripe_config",
        "stripe_config_confirm",
        "create_product",
    ]
    json.dumps(body)


def test_a_run_redis_no_longer_holds_is_served_from_the_archive(
    client: Client, stripe, token_for, archive
):
    token = token_for("Operator")
    flow_id = _launch(client, token, stripe.name, '{"a": 1}').json()["flow_id"]
    headers = {"Authorization": f"Bearer {token}"}
    engine_client.cancel_run(flow_id)
    archive()
    from_redis = client.get(f"/api/runs/{flow_id}", headers=headers).json()
    with blocking_client(settings.REDIS_URL) as redis_client:
        redis_client.flushdb()

    response = client.get(f"/api/runs/{flow_id}", headers=headers)

    assert response.status_code == 200
    assert response.json() == from_redis
    assert from_redis["status"] == "cancelled"
    assert [step["status"] for step in from_redis["steps"]] == ["cancelled"] * 3


def test_unknown_run_is_404(client: Client, db: None, token_for):
    response = client.get(
        "/api/runs/nope", headers={"Authorization": f"Bearer {token_for('Viewer')}"}
    )

    assert response.status_code == 404
    assert response.json() == {"error": "no run 'nope'"}


def test_the_api_ignores_session_logins(operator: Client, stripe):
    response = operator.post(
        f"/api/flows/{stripe.name}/runs", "{}", content_type="application/json"
    )

    assert response.status_code == 401


def _flow_inputs(flow_ids: list[str]) -> list[dict]:
    async def read() -> list[dict]:
        async with FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as ex:
            return [state.input for state in await ex.store.read_flows(flow_ids)]

    return async_to_sync(read)()


def test_a_batch_of_1000_inputs_launches_1000_runs_in_order(client: Client, stripe, token_for):
    inputs = [{"order": n} for n in range(1000)]

    response = _launch(client, token_for("Operator"), stripe.name, json.dumps({"inputs": inputs}))

    assert response.status_code == 202
    runs = response.json()["runs"]
    flow_ids = [run["flow_id"] for run in runs]
    assert len(set(flow_ids)) == 1000
    assert runs[0]["status_url"] == f"http://testserver/api/runs/{flow_ids[0]}"
    assert _flow_inputs(flow_ids) == inputs
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LAUNCH).count() == 1000


def test_a_batch_of_1001_inputs_is_a_400_and_launches_nothing(client: Client, stripe, token_for):
    body = json.dumps({"inputs": [{"order": n} for n in range(1001)]})

    response = _launch(client, token_for("Operator"), stripe.name, body)

    assert response.status_code == 400
    assert response.json() == {"error": "'inputs' must hold 1 to 1000 inputs per call, not 1001"}
    assert not AuditEntry.objects.exists()


def test_a_batch_input_that_is_not_an_object_is_a_400(client: Client, stripe, token_for):
    body = json.dumps({"inputs": [{"order": 1}, [2]]})

    response = _launch(client, token_for("Operator"), stripe.name, body)

    assert response.status_code == 400
    assert response.json() == {"error": "'inputs' must be a list of JSON objects, one per run"}


def test_a_viewer_may_not_launch_a_batch(client: Client, stripe, token_for):
    body = json.dumps({"inputs": [{"order": 1}]})

    response = _launch(client, token_for("Viewer"), stripe.name, body)

    assert response.status_code == 403
    assert not AuditEntry.objects.exists()
