"""An admin fixes a whole group of failed runs at once in a real Chromium, against the ASGI
server (its runner, archiver and live feeds in the lifespan), and sees them complete."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from flows.models import FlowDefinition
from flows.roles import ADMIN
from flows.runs import launching
from tests.browser.own_thread import in_own_thread
from tests.web.failure_runs import FIXED, define_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _launched_elsewhere(definition: FlowDefinition, inputs: list[dict]) -> list[str]:
    """Launch runs as a user of the app would, out of the thread that runs Playwright's loop."""

    def launch() -> list[str]:
        launcher, _ = User.objects.get_or_create(username="launcher")
        return [launching.launch(definition, data, launcher).flow_id for data in inputs]

    return in_own_thread(launch)


def test_an_admin_fixes_a_whole_group_and_sees_its_runs_complete(
    page: Page, asgi_server, live_log_in
):
    shop = define_shop()
    live_log_in(page, ADMIN)
    page.goto(f"{asgi_server}/failures/")
    expect(page.locator(".live-indicator")).to_have_text("Live")
    expect(page.get_by_text("No failures to look at.")).to_be_visible()

    flow_ids = _launched_elsewhere(shop, [{"n": 1}, {"n": 2}, {"n": 3}])

    group = page.locator(".failure-group")
    expect(group).to_have_attribute("data-count", "3")  # grouped live, as they failed
    expect(group).to_contain_text("No such customer: cus_<id>")
    expect(group.get_by_role("img")).to_have_accessible_name(re.compile(r"^3 in the last 24"))
    group.get_by_role("button", name="Fix and resume all").click()

    expect(page.get_by_role("heading", name="Fix and resume all: charge")).to_be_visible()
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(FIXED)
    page.get_by_role("button", name="Test with the sample's input and outputs").click()
    # The sample is the group's newest failure, whichever of the three that was.
    expect(page.locator("#test-result-fix")).to_contain_text(re.compile(r'"charged cart [123]"'))
    page.get_by_role("button", name="Resume all 3 runs with this step").click()

    expect(page).to_have_url(f"{asgi_server}/failures/")
    expect(page.get_by_text("3 resumed")).to_be_visible()
    expect(page.get_by_text("No failures to look at.")).to_be_visible()
    page.goto(f"{asgi_server}/runs/?status=completed")
    for flow_id in flow_ids:
        expect(page.locator(f"#run-row-{flow_id}")).to_have_attribute("data-status", "completed")
