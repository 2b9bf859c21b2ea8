"""The Runners page, open in a browser, follows real runner processes as they come and go:
one started after the page loaded appears alive; killed, it turns gone, with no reload."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from flows.roles import VIEWER
from tests.engine.conftest import (  # noqa: F401 - fixtures used below
    start_runner_process,
    start_runner_process_on,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_open_runners_page_shows_a_runner_arrive_then_go(
    page: Page,
    live_server,
    log_in: Callable[[Page, str], None],
    start_runner_process: Callable[..., subprocess.Popen],  # noqa: F811 - the fixture
):
    log_in(page, VIEWER)
    page.get_by_role("link", name="Runners").click()
    expect(page.get_by_text("No runner has sent a heartbeat.")).to_be_visible()

    runner = start_runner_process(concurrency=3)
    row = page.locator("#runner-table tr", has=page.get_by_role("cell", name=str(runner.pid)))
    expect(row).to_have_attribute("data-state", "alive")
    expect(row).to_contain_text("0 of 3")

    runner.send_signal(signal.SIGKILL)
    runner.wait()
    expect(row).to_have_attribute("data-state", "gone")
    expect(row.get_by_text("gone", exact=True)).to_be_visible()
