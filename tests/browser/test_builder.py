"""An operator builds, checks, reorders, tests and launches a flow in a real Chromium."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from playwright.sync_api import Locator, Page, expect

from flows.definitions import editing
from flows.definitions.examples import STRIPE_SAMPLE_INPUT, stripe_payment_request
from flows.engine.executor import FlowExecutor
from flows.engine.state import FlowState
from flows.models import FlowDefinition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _type_script(page: Page, form: Locator, script_lines: list[str]) -> None:
    """Type into the CodeMirror editor the way a person does: click, select all, type."""
    form.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    for number, line in enumerate(script_lines):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)


def _add_step(page: Page, name: str, script_lines: list[str]) -> None:
    page.get_by_role("button", name="Add step").click()
    form = page.locator("#step-form-new")
    form.get_by_label("Step name").fill(name)
    _type_script(page, form, script_lines)
    form.get_by_role("button", name="Save step").click()
    expect(page.locator("#step-list > li", has_text=name)).to_be_visible()
    expect(form).to_have_count(0)


def _step_names(page: Page) -> Locator:
    return page.locator("#step-list .step-name")


def test_operator_builds_a_flow_fixing_a_syntax_error_shown_inline(page: Page, live_server, log_in):
    log_in(page, "Operator")

    page.get_by_role("button", name="New flow").click()
    page.get_by_label("Name").fill("checkout")
    page.get_by_label("Description").fill("Built in the browser")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{live_server.url}/flows/checkout/")

    _add_step(page, "config", ['{"currency": input.get("currency", "usd")}'])

    page.get_by_role("button", name="Add step").click()
    form = page.locator("#step-form-new")
    form.get_by_label("Step name").fill("charge")
    _type_script(page, form, ['log("charging")', "total = (1 +"])
    check = page.locator("#script-check-new")
    expect(check).to_contain_text(re.compile(r"line 2, column \d+:"))
    form.get_by_role("button", name="Save step").click()
    expect(page.locator("#script-check-new")).to_contain_text("Script does not parse: line 2")
    expect(page.locator("#step-form-new .CodeMirror")).to_contain_text("total = (1 +")

    _type_script(page, page.locator("#step-form-new"), ['log("charging")', "total = 1 + 2"])
    expect(page.locator("#script-check-new")).to_have_text("")
    page.locator("#step-form-new").get_by_role("button", name="Save step").click()
    expect(page.locator("#step-list > li", has_text="charge")).to_be_visible()

    _add_step(page, "receipt", ['{"sent": True, "currency": steps["config"]["currency"]}'])

    expect(_step_names(page)).to_have_text(["config", "charge", "receipt"])
    expect(page.locator("#flow-version")).to_have_text("version 4")
    flow = FlowDefinition.objects.get(name="checkout").to_flow()
    assert [step.name for step in flow.steps] == ["config", "charge", "receipt"]


@pytest.fixture
def stripe(transactional_db: None) -> FlowDefinition:
    return editing.create_from_flow(stripe_payment_request())


def test_steps_reorder_with_the_buttons_and_by_dragging(page: Page, live_server, log_in, stripe):
    log_in(page, "Operator")
    page.goto(f"{live_server.url}/flows/{stripe.name}/")

    page.get_by_role("button", name="Move create_product up").click()
    expect(_step_names(page)).to_have_text(
        ["stripe_config", "create_product", "stripe_config_confirm"]
    )

    confirm = stripe.steps.get(name="stripe_config_confirm")
    handle = page.locator(f"#step-{confirm.pk} .drag-handle").bounding_box()
    top = page.locator("#step-list > li").first.bounding_box()
    assert handle and top
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    # Move in small steps and drop only once the list shows the new order, as a person would:
    # a single jump can end the drag before the browser delivered any dragover.
    page.mouse.move(top["x"] + 20, top["y"] + 5, steps=15)
    expect(_step_names(page)).to_have_text(
        ["stripe_config_confirm", "stripe_config", "create_product"]
    )
    with page.expect_response(lambda response: "/steps/reorder/" in response.url):
        page.mouse.up()  # dragend posts the order; wait for it before reloading
    page.reload()
    expect(_step_names(page)).to_have_text(
        ["stripe_config_confirm", "stripe_config", "create_product"]
    )


def test_test_step_shows_output_logs_and_timing(page: Page, live_server, log_in, stripe):
    log_in(page, "Operator")
    page.goto(f"{live_server.url}/flows/{stripe.name}/")
    step = stripe.steps.get(name="stripe_config")

    page.get_by_role("button", name="Edit stripe_config", exact=True).click()
    form = page.locator(f"#step-form-{step.pk}")
    form.get_by_text("Test this step with sample data").click()
    form.get_by_label("Sample input (JSON)").fill('{"customer_email": "ada@example.com"}')
    form.get_by_role("button", name="Test step").click()

    result = page.locator(f"#test-result-{step.pk}")
    expect(result).to_contain_text("completed")
    expect(result).to_contain_text('"api_key": "sk_test_mock"')
    expect(result).to_contain_text("configuring Stripe for ada@example.com")
    expect(result).to_contain_text(re.compile(r"in \d+\.\d{3} s"))


def test_launch_refuses_bad_json_then_lands_on_the_finished_run(
    page: Page, live_server, log_in, stripe, runner
):
    log_in(page, "Operator")
    page.get_by_role("button", name="Launch stripe_payment_request").click()

    page.get_by_label("Input (JSON)").fill('{"currency": eur}')
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#launch-form")).to_contain_text("Input is not valid JSON: line 1")
    expect(page.get_by_label("Input (JSON)")).to_have_value('{"currency": eur}')

    page.get_by_label("Input (JSON)").fill(json.dumps(STRIPE_SAMPLE_INPUT))
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}/$"))

    flow_id = page.url.rstrip("/").rsplit("/", 1)[1]
    state = _wait_for_flow(flow_id)
    assert state.status == "completed"
    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator("#step-row-create_product")).to_contain_text("prod_mock_1")


def _wait_for_flow(flow_id: str) -> FlowState:
    """Block until the run finishes (pub/sub, no polling), in a thread of its own because
    Playwright's event loop occupies this one."""

    async def wait() -> FlowState:
        async with FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as ex:
            return await ex.wait_for_flow(flow_id)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def test_the_builder_works_without_javascript(browser, live_server, make_user, stripe):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    make_user("Operator")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("correct horse 12")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/flows/{stripe.name}/")

    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Step name").fill("refund")
    page.get_by_label("Script").fill("if True\n  1")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator("#script-check-new")).to_contain_text("line 1, column 8")
    expect(page.get_by_label("Script")).to_have_value("if True\n  1")

    page.get_by_label("Script").fill('{"refunded": True}')
    page.get_by_role("button", name="Save step").click()
    expect(page).to_have_url(re.compile(rf"/flows/{stripe.name}/#step-\d+$"))
    expect(_step_names(page)).to_have_text(
        ["stripe_config", "stripe_config_confirm", "create_product", "refund"]
    )
    context.close()


def test_keyboard_users_indent_in_the_editor_and_leave_it_with_escape_then_tab(
    page: Page, live_server, log_in, stripe
):
    log_in(page, "Operator")
    page.goto(f"{live_server.url}/flows/{stripe.name}/")

    page.get_by_role("button", name="Add step").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Step name").fill("typed")
    page.keyboard.press("Tab")
    page.keyboard.type("x = 1")
    # The live check answers what was typed; let its answer land before leaving the editor,
    # as a person reading it would, so that its swap cannot race the keys below.
    with page.expect_response(lambda response: response.url.endswith("/steps/check/")):
        page.keyboard.press("Tab")
    expect(page.locator("#script-check-new")).to_have_text("")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")

    # The next field after the script: the first choice of "Runs after".
    runs_after = page.get_by_role("group", name="Runs after")
    expect(runs_after.get_by_label("the start of the run")).to_be_focused()
    expect(page.locator("#step-form-new .CodeMirror")).to_contain_text("x = 1")
    expect(page.locator("#id_step_new_script")).to_have_value("x = 1   ")
