"""Operators watch runs live and act on them in a real Chromium, against the ASGI server
(WebSockets, with the runner, live bridge and archiver running in its lifespan)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import connections
from playwright.sync_api import Page, expect

from flows.definitions import editing
from flows.engine.builder import Flow, Step
from flows.models import FlowDefinition
from flows.roles import ADMIN, OPERATOR, VIEWER
from flows.runs import launching

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every status a step row or the summary shows, to prove what changed live.
WATCH_STATUSES = """() => {
  window.seen = [];
  window.notReloaded = true;
  new MutationObserver(() => {
    document.querySelectorAll("[data-status]").forEach(
      (el) => seen.push(el.id + ":" + el.dataset.status));
  }).observe(document.body, {childList: true, subtree: true});
}"""


def _define(name: str, *steps: Step) -> FlowDefinition:
    return editing.create_from_flow(Flow(name, steps))


def _launch(page: Page, base_url: str, name: str) -> str:
    page.goto(f"{base_url}/flows/{name}/launch/")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/runs/\w+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[1]


def _launched_elsewhere(definition: FlowDefinition) -> str:
    """Launch a run as a user of the app would, out of the thread that runs Playwright's loop."""

    def launch() -> str:
        try:
            launcher, _ = User.objects.get_or_create(username="launcher")
            return launching.launch(definition, {}, launcher).flow_id
        finally:
            connections.close_all()  # this thread's own connection

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(launch).result()


def _live(page: Page) -> None:
    expect(page.locator(".live-indicator")).to_have_text("Live")


def test_each_step_changes_status_on_the_open_page(page: Page, asgi_server, live_log_in):
    slow = 'mock_api("slow", delay=0.4)'
    _define(
        "flaky_three",
        Step("first", slow),
        Step("flaky", 'mock_api("flaky", fail_times=1)', retries=1),
        Step("last", slow),
    )
    live_log_in(page, OPERATOR)
    flow_id = _launch(page, asgi_server, "flaky_three")
    page.evaluate(WATCH_STATUSES)
    _live(page)

    expect(page.locator("#run-summary")).to_have_attribute("data-status", "completed")

    for step in ("first", "flaky", "last"):
        expect(page.locator(f"#step-row-{step}")).to_have_attribute("data-status", "completed")
    expect(page.locator("#step-row-flaky td").nth(1)).to_have_text("2")
    seen = page.evaluate("seen")
    assert "step-row-last:running" in seen
    assert page.evaluate("window.notReloaded")
    assert flow_id in page.url


def test_admin_fixes_the_failing_step_tests_it_and_resumes(page: Page, asgi_server, live_log_in):
    _define("fixable", Step("greet", '"hello"'), Step("broken", 'fail("wrong total")'))
    live_log_in(page, ADMIN)
    _launch(page, asgi_server, "fixable")
    _live(page)
    expect(page.locator("#run-summary")).to_have_attribute("data-status", "failed")
    expect(page.get_by_role("button", name="Retry step")).to_be_visible()

    page.get_by_role("button", name="Fix and resume").click()
    expect(page.get_by_text('"greet": "hello"')).to_be_visible()  # what the attempt saw
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type('steps["greet"] + " world"')
    page.get_by_role("button", name="Test with this input and outputs").click()
    expect(page.locator("#test-result-fix")).to_contain_text('"hello world"')
    page.get_by_role("button", name="Resume the run with this step").click()

    expect(page.locator("#run-summary")).to_have_attribute("data-status", "completed")
    expect(page.locator("#step-row-broken .step-output")).to_contain_text('"hello world"')
    expect(page.locator("#run-summary")).to_contain_text("patched \N{MULTIPLICATION SIGN}1")
    expect(page.locator("#run-audit")).to_contain_text("fixed a step and resumed broken")


def test_viewers_see_no_actions_and_the_endpoints_refuse_them(page: Page, asgi_server, live_log_in):
    fails = _define("fails", Step("broken", 'fail("no")'))
    flow_id = _launched_elsewhere(fails)
    live_log_in(page, VIEWER)
    page.goto(f"{asgi_server}/runs/{flow_id}/")
    _live(page)
    expect(page.locator("#run-summary")).to_have_attribute("data-status", "failed")

    expect(page.get_by_role("button", name="Retry step")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for action in ("cancel/", "steps/broken/retry/"):
        response = page.request.post(
            f"{asgi_server}/runs/{flow_id}/{action}", headers={"X-CSRFToken": token}
        )
        assert response.status == 403


def test_an_operator_cancels_a_running_flow(page: Page, asgi_server, live_log_in):
    _define(
        "long",
        Step("first", 'mock_api("slow", delay=1.5)'),
        Step("wait", 'mock_api("slow", delay=60)', timeout=120),
    )
    live_log_in(page, OPERATOR)
    _launch(page, asgi_server, "long")
    _live(page)
    expect(page.locator("#step-row-first")).to_have_attribute("data-status", "running")
    page.evaluate("document.getElementById('run-summary').dataset.before = 'yes'")

    page.get_by_role("button", name="Cancel run").click()
    # The run moves on while the confirmation is open: the summary is replaced, still open.
    expect(page.locator("#step-row-wait")).to_have_attribute("data-status", "running")
    expect(page.locator("#run-summary")).not_to_have_attribute("data-before", "yes")
    expect(page.locator("#confirm-cancel")).to_have_attribute("open", "")
    page.get_by_role("button", name="Yes, cancel the run").click()

    expect(page.locator("#run-summary")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#step-row-wait")).to_have_attribute("data-status", "cancelled")
    expect(page.locator(".message")).to_have_text("Run cancelled")


def test_a_new_run_appears_on_top_of_the_open_runs_list(page: Page, asgi_server, live_log_in):
    waits = _define("waits", Step("wait", 'mock_api("slow", delay=60)', timeout=120))
    first = _launched_elsewhere(waits)
    live_log_in(page, VIEWER)
    page.goto(f"{asgi_server}/runs/")
    page.evaluate("window.notReloaded = true")
    _live(page)

    second = _launched_elsewhere(waits)

    rows = page.locator("#run-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("id", f"run-row-{second}")
    expect(rows.nth(1)).to_have_attribute("id", f"run-row-{first}")
    assert page.evaluate("window.notReloaded")
