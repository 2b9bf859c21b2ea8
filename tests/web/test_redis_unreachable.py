"""With Redis unreachable, the pages that need it say so (503, naming what still works) and the
API answers a JSON 503; the pages that read only the database keep working."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from flows.models import FlowDefinition
from flows.runs import launching
from tests.test_supervision import UNREACHABLE_REDIS


@pytest.fixture
def unreachable(use_redis: Callable[[str], None]) -> None:
    use_redis(UNREACHABLE_REDIS)


@pytest.fixture
def launched(stripe: FlowDefinition, make_user) -> str:
    """A run launched (and recorded) while Redis was still reachable."""
    return launching.launch(stripe, {}, make_user("Admin")).flow_id


def _says_redis_is_unreachable(response) -> None:
    assert response.status_code == 503
    page = response.content.decode()
    assert "Redis is unreachable" in page
    assert 'href="/runs/"' in page  # what still works: the archive


def test_pages_that_need_redis_answer_503_and_the_archive_still_answers(
    operator: Client, stripe, launched, unreachable
):
    for path in (f"/runs/{launched}/", "/flows/", f"/flows/{stripe.name}/launch/"):
        _says_redis_is_unreachable(operator.get(path))

    runs = operator.get("/runs/")
    assert runs.status_code == 200
    assert f'id="run-row-{launched}"' in runs.content.decode()
    assert operator.get("/").status_code == 200


def test_launch_and_cancel_answer_503_saying_so(operator: Client, stripe, launched, unreachable):
    _says_redis_is_unreachable(operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"}))
    _says_redis_is_unreachable(operator.post(f"/runs/{launched}/cancel/"))


def test_an_htmx_action_reloads_the_page_to_say_so(operator: Client, launched, unreachable):
    response = operator.post(f"/runs/{launched}/cancel/", headers={"HX-Request": "true"})

    assert response.status_code == 503
    assert response["HX-Refresh"] == "true"  # htmx swaps no error response


def test_the_api_answers_a_json_503(client: Client, stripe, launched, token_for, unreachable):
    headers = {"Authorization": f"Bearer {token_for('Operator')}"}

    read = client.get(f"/api/runs/{launched}", headers=headers)
    launch = client.post(
        f"/api/flows/{stripe.name}/runs", "{}", content_type="application/json", headers=headers
    )

    for response in (read, launch):
        assert response.status_code == 503
        assert response.json() == {"error": "Redis is unreachable: try again in a moment"}
