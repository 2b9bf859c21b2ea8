"""JSON that Python's parser takes but Flowsite cannot keep (deep nesting, a lone surrogate,
NaN and Infinity) is refused at every door where a user types or sends JSON: the API, the launch
form, a test's sample input, and flow import. Each says what is wrong where it was typed, and
nothing is stored or run."""

from __future__ import annotations

import html
import json

import pytest
from django.http import HttpResponse
from django.test import Client

from flows.engine.connections import blocking_client
from flows.models import FlowDefinition, RunRecord
from tests.web.step_form import post_test_run

HTMX = {"HX-Request": "true"}

DEEP = '{"a": ' + "[" * 10_000 + "]" * 10_000 + "}"
HOSTILE = {
    "deep": (DEEP, "nested more than 100 levels deep"),
    "lone surrogate": ('{"a": "\\ud800"}', "not valid Unicode: \\ud800 is half of a surrogate"),
    "NaN": ('{"a": NaN}', "not valid JSON: NaN is not a number JSON allows"),
    "Infinity": ('{"a": -Infinity}', "not valid JSON: -Infinity is not a number JSON allows"),
    "too large": ('{"a": 1e400}', "not valid JSON: the number 1e400 is too large"),
}
CASES = pytest.mark.parametrize(("text", "problem"), HOSTILE.values(), ids=HOSTILE.keys())


def _launch_by_api(client: Client, flow_name: str, token: str, body: str) -> HttpResponse:
    headers = {"Authorization": f"Bearer {token}"}
    return client.post(
        f"/api/flows/{flow_name}/runs", body, content_type="application/json", headers=headers
    )


def _nothing_launched(redis_url: str) -> bool:
    with blocking_client(redis_url) as client:
        return client.dbsize() == 0 and not RunRecord.objects.exists()


@CASES
def test_the_api_refuses_it_with_a_json_400(
    client: Client, stripe, token_for, redis_url: str, text: str, problem: str
):
    response = _launch_by_api(client, stripe.name, token_for("Operator"), text)

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"the body is {problem}")
    assert _nothing_launched(redis_url)


@CASES
def test_the_launch_form_refuses_it_under_the_field_keeping_the_text(
    operator: Client, stripe, redis_url: str, text: str, problem: str
):
    response = operator.post(f"/flows/{stripe.name}/launch/", {"input": text}, headers=HTMX)

    content = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert f'<small class="field-error" id="id_input_error">Input is {problem}' in content
    assert f"{text}</textarea>" in content
    assert _nothing_launched(redis_url)


@CASES
def test_a_test_run_refuses_it_as_sample_input(
    operator: Client, stripe, redis_url: str, text: str, problem: str
):
    response = post_test_run(operator, stripe.name, "x = 1\nx + 1\n", sample_input=text)

    content = html.unescape(response.content.decode())
    assert f"Not run: Sample input is {problem}" in content
    assert "status-completed" not in content
    assert _nothing_launched(redis_url)


@CASES
def test_import_refuses_it_under_the_field(operator: Client, db: None, text: str, problem: str):
    flow = {"name": "imported", "steps": [{"name": "a", "script": "1"}], "extra": "PLACE"}
    pasted = json.dumps(flow).replace('"PLACE"', text)

    response = operator.post("/flows/import/", {"definition": pasted})

    content = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert f"{problem[:1].upper()}{problem[1:]}" in content
    assert not FlowDefinition.objects.exists()


def test_import_refuses_a_nan_timeout(operator: Client, db: None):
    pasted = '{"name": "x", "steps": [{"name": "a", "script": "1", "timeout": NaN}]}'

    response = operator.post("/flows/import/", {"definition": pasted})

    assert b"Not valid JSON: NaN is not a number JSON allows" in response.content
    assert not FlowDefinition.objects.exists()


def test_nesting_up_to_the_limit_is_accepted(client: Client, stripe, token_for):
    deep_enough = '{"a": ' + "[" * 99 + "]" * 99 + "}"

    response = _launch_by_api(client, stripe.name, token_for("Operator"), deep_enough)

    assert response.status_code == 202
