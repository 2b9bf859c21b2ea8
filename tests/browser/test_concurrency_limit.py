"""An operator limits a flow to one run at once in a real Chromium, launches it twice, and
watches the second run wait as Queued and then run, live, over the real ASGI server and its
runner."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from flows.definitions import editing
from flows.engine import new_flow, new_step
from flows.models import FlowDefinition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _launch(page: Page, base: str) -> None:
    page.goto(f"{base}/flows/one_at_a_time/launch/")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/runs/\w+/$"))
    expect(page.locator(".live-indicator")).to_have_text("Live")


def test_a_second_run_waits_as_queued_and_starts_when_the_first_ends(
    page: Page, asgi_server, live_log_in
):
    slow = new_step("wait").script('mock_api("slow", delay=5)\n"done"').build()
    editing.create_from_flow(new_flow("one_at_a_time").add_step(slow).build())
    live_log_in(page, "Operator")
    page.goto(f"{asgi_server}/flows/one_at_a_time/")
    page.get_by_label("At most this many runs at once", exact=True).fill("1")
    page.locator("#flow-form").get_by_role("button", name="Save").click()
    expect(page.locator("#flow-form")).to_contain_text("Saved.")
    assert FlowDefinition.objects.get(name="one_at_a_time").concurrency_limit == 1

    _launch(page, asgi_server)
    first = page.url
    _launch(page, asgi_server)

    summary = page.locator("#run-summary")
    expect(summary).to_have_attribute("data-status", "queued")
    expect(summary.locator(".badge")).to_have_text("queued")
    expect(summary).to_contain_text(
        "Queued: the flow allows at most 1 run at once; this run starts when a slot frees"
    )
    expect(summary).to_have_attribute("data-status", "completed", timeout=30_000)
    page.goto(first)
    expect(page.locator("#run-summary")).to_have_attribute("data-status", "completed")
