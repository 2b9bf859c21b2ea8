"""An operator schedules a flow in a real Chromium: the expression and the zone are checked as
they are typed, the saved schedule shows its next fire times, and the run a scheduler launches
for it is on the Runs page as a schedule's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from flows.definitions import editing
from flows.definitions.examples import stripe_payment_request
from flows.models import Schedule
from flows.roles import OPERATOR
from tests.browser.own_thread import in_own_thread
from tests.web.schedule_clock import Clock, scheduler_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fire_the_next_minute() -> list[tuple[int, datetime]]:
    """Tick a scheduler now and a minute later, out of the thread that runs Playwright's loop:
    what it launched."""

    async def two_ticks() -> list[tuple[int, datetime]]:
        clock = Clock(datetime.now(UTC))
        scheduler = scheduler_at(clock)
        try:
            await scheduler.tick()
            clock.advance(minutes=1)
            return await scheduler.tick()
        finally:
            await scheduler.close()

    return in_own_thread(lambda: asyncio.run(two_ticks()))


def test_a_schedule_is_checked_as_typed_and_its_runs_are_listed_as_scheduled(
    page: Page, live_server, log_in
):
    flow = editing.create_from_flow(stripe_payment_request())
    log_in(page, OPERATOR)
    page.goto(f"{live_server.url}/flows/{flow.name}/")
    page.get_by_role("button", name="Add schedule").click()
    form = page.locator("#schedule-form-new")
    expect(form).to_be_visible()
    # htmx wires a swapped-in form's checks as the swap settles: typing before misses them.
    expect(page.locator("#new-schedule .htmx-added")).to_have_count(0)

    expression, expression_check = form.get_by_label("Cron expression"), "#expression-check-new"
    expression.fill("61 * * * *")
    expect(page.locator(expression_check)).to_contain_text("minute")  # before any save
    expression.fill("* * * * *")
    expect(page.locator(expression_check)).to_be_empty()
    zone, zone_check = form.get_by_label("Time zone"), "#timezone-check-new"
    zone.fill("Mars/Base")
    expect(page.locator(zone_check)).to_contain_text("'Mars/Base' is not a time zone name")
    zone.fill("Europe/Berlin")
    expect(page.locator(zone_check)).to_be_empty()
    form.get_by_label("Name").fill("every minute")
    form.get_by_role("button", name="Save schedule").click()

    listed = page.locator("#schedule-list > li")
    expect(listed).to_have_count(1)
    expect(listed.locator(".schedule-upcoming time")).to_have_count(5)
    expect(listed.locator(".schedule-state")).to_have_text("on")

    ((schedule_id, _),) = _fire_the_next_minute()
    run = Schedule.objects.get(pk=schedule_id).runs.get().run
    page.goto(f"{live_server.url}/runs/?trigger=schedule")
    page.locator(f"#run-row-{run.flow_id} a").click()
    expect(page.locator(".run-trigger")).to_have_text("schedule: every minute")
    page.goto(f"{live_server.url}/flows/{flow.name}/")
    expect(listed.locator(".schedule-runs a")).to_have_attribute("href", f"/runs/{run.flow_id}/")
