"""An admin makes a webhook on a flow's page in a real Chromium, copies its URL (shown once),
another system posts JSON to it, and the run it started is on the Runs page as a webhook's."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from flows.definitions import editing
from flows.definitions.examples import stripe_payment_request
from flows.roles import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_webhook_made_in_the_browser_starts_a_run_listed_as_the_webhooks(
    page: Page, live_server, log_in
):
    flow = editing.create_from_flow(stripe_payment_request())
    log_in(page, ADMIN)
    page.goto(f"{live_server.url}/flows/{flow.name}/")

    page.get_by_role("button", name="Add webhook").click()
    page.get_by_label("Label").fill("shop")
    page.get_by_role("button", name="Create webhook").click()
    url = page.locator("#webhook-url").inner_text()
    token = url.rsplit("/", 1)[1]
    assert re.fullmatch(r"fwh_[\w-]{43}", token)
    page.get_by_role("button", name="Done").click()
    expect(page.locator("#webhook-issued")).to_have_count(0)
    page.reload()
    expect(page.locator("#webhook-list")).to_contain_text(token[:10])
    assert token not in page.content()  # shown once: the page no longer has it

    sent = {"order": 7, "customer_email": "ada@example.com"}
    answer = httpx.post(url, json=sent)  # as another system would, with no session or CSRF
    assert answer.status_code == 202
    flow_id = answer.json()["flow_id"]

    page.goto(f"{live_server.url}/runs/")
    page.get_by_label("Trigger").select_option("webhook")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"trigger=webhook"))
    page.locator(f"#run-row-{flow_id} a").click()
    expect(page.locator(".run-trigger")).to_have_text("webhook: shop")
    page.get_by_text("Input", exact=True).click()
    expect(page.locator("details pre code").first).to_contain_text('"order": 7')
    expect(page.locator("details pre code").first).to_contain_text('"ada@example.com"')
