"""Scripts' HTTP client against a real local server: the allow-list, the address checks, the
limits, and keep-alive connections reused from one attempt to the next."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from flows.engine.allow_list import parse_allow_list
from flows.engine.sandbox.http_client import (
    HttpError,
    HttpPolicy,
    ScriptHttp,
)
from tests.engine.local_http import LocalHttpServer, local_http_server


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


@pytest.fixture
def http() -> Iterator[ScriptHttp]:
    client = ScriptHttp()
    yield client
    client.close()


def _policy(allow: str, **options: object) -> HttpPolicy:
    return HttpPolicy(site_hosts=parse_allow_list(allow), **options)  # type: ignore[arg-type]


def _attempt(http: ScriptHttp, policy: HttpPolicy, seconds: float = 10.0, logs=None):
    return http.attempt(
        policy, time.monotonic() + seconds, (logs if logs is not None else []).append
    )


LOCAL = "127.0.0.1, localhost"


def test_an_allowed_host_answers_with_status_headers_text_and_json(http, server):
    logs: list[str] = []
    attempt = _attempt(http, _policy(LOCAL, allow_private=True), logs=logs)

    answer = attempt.request(
        "POST", server.url("/charge"), json={"amount": 42}, params={"currency": "eur"}
    )

    assert answer["status"] == 200
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["json"]["method"] == "POST"
    assert answer["json"]["query"] == {"currency": "eur"}
    assert answer["json"]["body"] == '{"amount":42}'
    assert answer["text"].startswith("{")
    assert len(logs) == 1
    assert logs[0].startswith("http: POST 127.0.0.1/charge 200 ")
    assert logs[0].endswith(" ms")


def test_a_non_2xx_answer_is_returned_not_raised(http, server):
    attempt = _attempt(http, _policy(LOCAL, allow_private=True))

    assert attempt.request("GET", server.url("/missing?status=404"))["status"] == 404


def test_a_host_not_allowed_fails_naming_the_setting(http):
    attempt = _attempt(http, _policy("api.stripe.com"))

    with pytest.raises(
        HttpError, match=r"^http: host api.other.com is not allowed \(FLOWS_HTTP_ALLOW\)$"
    ):
        attempt.request("GET", "https://api.other.com/v1")


def test_the_flow_can_only_narrow_the_sites_hosts(http, server):
    policy = _policy(LOCAL, allow_private=True, flow_hosts=parse_allow_list("localhost"))
    attempt = _attempt(http, policy)

    assert attempt.request("GET", server.url("/", host="localhost"))["status"] == 200
    with pytest.raises(HttpError, match="not allowed \\(the flow's allowed hosts\\)"):
        attempt.request("GET", server.url("/"))


def test_wildcards_and_ports_in_the_allow_list():
    rules = parse_allow_list("*.example.com, api.test:8443")

    assert rules[0].matches("a.b.example.com", 443)
    assert not rules[0].matches("example.com", 443)
    assert rules[1].matches("api.test", 8443)
    assert not rules[1].matches("api.test", 443)
    with pytest.raises(ValueError, match="'bad/host' is not a host"):
        parse_allow_list("bad/host")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1/", "127.0.0.1"),  # loopback, literal
        ("http://localhost/", "localhost"),  # a name that resolves to loopback
        ("http://10.0.0.8/", "10.0.0.8"),  # private
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # cloud metadata
        ("http://[::1]/", "[::1]"),  # IPv6 loopback
        ("http://[fd00::1]/", "[fd00::1]"),  # IPv6 unique local
        ("http://[::ffff:127.0.0.1]/", "[::ffff:127.0.0.1]"),  # IPv4-mapped IPv6
        ("http://0.0.0.0/", "0.0.0.0"),  # unspecified
        ("http://224.0.0.1/", "224.0.0.1"),  # multicast
    ],
)
def test_private_and_local_addresses_are_refused_even_for_allowed_names(http, url, allowed):
    attempt = _attempt(http, _policy(allowed))

    with pytest.raises(HttpError, match=r"a private or local address \(FLOWS_HTTP_ALLOW_PRIVATE\)"):
        attempt.request("GET", url)


def test_a_redirect_to_a_host_not_allowed_is_refused(http, server):
    attempt = _attempt(http, _policy("127.0.0.1", allow_private=True))
    target = "http://evil.test/steal"

    with pytest.raises(HttpError, match=r"host evil\.test is not allowed"):
        attempt.request("GET", server.url(f"/redirect?to={target}"))


def test_a_redirect_to_an_allowed_host_is_followed(http, server):
    attempt = _attempt(http, _policy(LOCAL, allow_private=True))

    answer = attempt.request("GET", server.url(f"/redirect?to={server.url('/landed')}"))

    assert answer["json"]["path"] == "/landed"


def test_an_answer_over_the_cap_fails_the_attempt(http, server):
    attempt = _attempt(http, _policy(LOCAL, allow_private=True, max_bytes=1000))

    assert attempt.request("GET", server.url("/big?bytes=1000"))["text"] == "x" * 1000
    with pytest.raises(HttpError, match="is over 1,000 bytes \\(FLOWS_HTTP_MAX_BYTES\\)"):
        attempt.request("GET", server.url("/big?bytes=1001"))


def test_a_request_gets_no_more_time_than_the_step_has_left(http, server):
    attempt = _attempt(http, _policy(LOCAL, allow_private=True), seconds=0.3)

    with pytest.raises(HttpError, match="timed out"):  # it would answer after 3 s
        attempt.request("GET", server.url("/slow?seconds=3"), timeout=60)


def test_one_connection_serves_fifty_sequential_steps_to_one_host(http, server):
    policy = _policy(LOCAL, allow_private=True)

    for _ in range(50):
        assert _attempt(http, policy).request("GET", server.url("/"))["status"] == 200

    assert len(server.connections) == 1


def test_an_attempt_makes_at_most_100_requests(http, server):
    attempt = _attempt(http, _policy(LOCAL, allow_private=True))
    for _ in range(100):
        attempt.request("GET", server.url("/"))

    with pytest.raises(HttpError, match="at most 100 requests per attempt"):
        attempt.request("GET", server.url("/"))
