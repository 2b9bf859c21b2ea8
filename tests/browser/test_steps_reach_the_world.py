"""An admin sets a secret; an operator builds a step that posts to a real HTTP server with it,
tests it, launches it, and sees the request in the log and the secret only as a placeholder."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_builder import _type_script
from tests.engine.local_http import LocalHttpServer, local_http_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VALUE = "sk_live_BrowserSecret42"


@pytest.fixture
def api_server() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


@pytest.fixture
def loopback_allowed(settings) -> None:
    """Steps may reach this machine's loopback, as the site's settings would allow a host
    (set before the server starts: its runner reads them then)."""
    settings.FLOWS_HTTP_ALLOW = "127.0.0.1"
    settings.FLOWS_HTTP_ALLOW_PRIVATE = True


def test_a_step_posts_with_a_secret_and_the_value_shows_nowhere(
    loopback_allowed: None,
    api_server: LocalHttpServer,
    browser: Browser,
    page: Page,
    asgi_server: str,
    live_log_in,
):
    live_log_in(page, "Admin")
    page.goto(f"{asgi_server}/secrets/")
    page.get_by_label("Name").fill("API_KEY")
    page.get_by_label("Value").fill(VALUE)
    page.get_by_role("button", name="Save secret").click()
    expect(page.get_by_text("Secret API_KEY saved.")).to_be_visible()
    expect(page.locator("#secret-API_KEY")).to_contain_text("admin")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    operator = context.new_page()
    live_log_in(operator, "Operator")
    operator.get_by_role("button", name="New flow").click()
    operator.get_by_label("Name").fill("poster")
    operator.get_by_role("button", name="Save").click()
    operator.get_by_role("button", name="Add step").click()
    form = operator.locator("#step-form-new")
    form.get_by_label("Step name").fill("charge")
    auth = '{"Authorization": "Bearer " + secret("API_KEY")}'
    _type_script(
        operator,
        form,
        [
            f'answer = http.post("{api_server.url("/v1/charges")}", json={{"amount": 42}}, '
            f"headers={auth})",
            'log("sent " + secret("API_KEY"))',
            '{"status": answer.status, "seen": answer.json["authorization"]}',
        ],
    )
    form.get_by_text("Test this step with sample data").click()
    form.get_by_role("button", name="Test step").click()
    tested = operator.locator("#test-result-new")
    expect(tested).to_contain_text("completed")
    expect(tested).to_contain_text("http: POST 127.0.0.1/v1/charges 200")
    expect(tested).to_contain_text("sent [secret:API_KEY]")
    form.get_by_role("button", name="Save step").click()
    expect(operator.locator("#step-list > li", has_text="charge")).to_be_visible()

    operator.goto(f"{asgi_server}/flows/poster/launch/")
    operator.get_by_role("button", name="Launch").click()
    expect(operator).to_have_url(re.compile(r"/runs/\w+/$"))
    row = operator.locator("#step-row-charge")
    expect(row).to_have_attribute("data-status", "completed")
    expect(row).to_contain_text("http: POST 127.0.0.1/v1/charges 200")
    expect(row).to_contain_text("Bearer [secret:API_KEY]")  # what the server saw, redacted
    assert VALUE not in operator.content()
    assert VALUE not in page.content()
    context.close()
