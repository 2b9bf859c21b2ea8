"""An operator builds a flow that branches and joins in a real Chromium (what each step runs
after, a condition checked as it is typed), launches it and watches its graph move live over
the real ASGI server with its runner; then a reorder the dependencies refuse."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from flows.models import FlowDefinition
from tests.browser.graph_page import WATCH_GRAPH, graph_node

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _new_step(page: Page, name: str, script: str) -> Locator:
    page.get_by_role("button", name="Add step").click()
    form = page.locator("#step-form-new")
    form.get_by_label("Step name").fill(name)
    form.locator(".CodeMirror").click()
    page.keyboard.type(script)
    return form


def _runs_after(form: Locator, name: str) -> Locator:
    return form.get_by_role("group", name="Runs after").get_by_label(name, exact=True)


def _save(page: Page, form: Locator, name: str) -> None:
    form.get_by_role("button", name="Save step").click()
    expect(page.locator("#step-list .step-name").last).to_have_text(name)
    expect(form).to_have_count(0)


def test_operator_builds_a_diamond_with_a_condition_launches_it_and_watches_it_live(
    page: Page, asgi_server, live_log_in
):
    live_log_in(page, "Operator")
    page.get_by_role("button", name="New flow").click()
    page.get_by_label("Name").fill("diamond")
    page.get_by_role("button", name="Save").click()

    # a is slow enough that the run page watches its graph before c is decided, even on a
    # loaded machine (CI runs two suites at once).
    form = _new_step(page, "a", 'mock_api("slow", delay=1.5)\n{"n": 1}')
    expect(_runs_after(form, "the start of the run")).to_be_checked()
    _save(page, form, "a")

    form = _new_step(page, "b", 'mock_api("slow", delay=0.5)\nsteps["a"]["n"] + 1')
    expect(_runs_after(form, "a")).to_be_checked()  # the step before it, by default
    _save(page, form, "b")

    form = _new_step(page, "c", 'steps["a"]["n"] + 2')
    expect(_runs_after(form, "b")).to_be_checked()
    _runs_after(form, "b").uncheck()
    _runs_after(form, "a").check()
    condition = form.get_by_label("Run only if")
    condition.fill('input.get("c") ==')
    expect(page.locator("#condition-check-new")).to_contain_text("Condition: line 1, column")
    condition.fill('input.get("c") == True')
    expect(page.locator("#condition-check-new")).to_have_text("")
    _save(page, form, "c")

    form = _new_step(page, "d", "True")
    _runs_after(form, "b").check()
    expect(_runs_after(form, "c")).to_be_checked()
    _save(page, form, "d")

    rows = page.locator("#step-list > li")
    expect(rows.nth(2)).to_contain_text("after a")
    expect(rows.nth(2)).to_contain_text('only if input.get("c") == True')
    expect(rows.nth(3)).to_contain_text("after b, c")

    flow = FlowDefinition.objects.get(name="diamond").to_flow()
    assert [flow.dependencies(name) for name in "abcd"] == [(), ("a",), ("a",), ("b", "c")]
    assert flow.step("c").when == 'input.get("c") == True'
    expect(page.locator(".graph-node")).to_have_count(4)

    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/flows/diamond/launch/$"))
    page.get_by_role("button", name="Launch").click()  # input {}: c's condition is false
    expect(page.locator(".live-indicator")).to_have_text("Live")
    page.evaluate(WATCH_GRAPH)
    expect(page.locator("#run-summary")).to_have_attribute("data-status", "completed")
    for step in ("a", "b", "d"):
        expect(graph_node(page, step)).to_have_attribute("data-status", "completed")
    expect(graph_node(page, "c")).to_have_attribute("data-status", "skipped")
    seen = page.evaluate("graphSeen")
    assert seen["b"][-2:] == ["running", "completed"]  # seen turning green on the open page
    assert seen["c"][-1] == "skipped" and len(seen["c"]) > 1
    expect(page.locator("#run-summary")).to_contain_text("3 of 4 steps completed, 1 skipped")

    page.goto(f"{asgi_server}/flows/diamond/")

    page.get_by_role("button", name="Move d up").click()  # d runs after c: refused
    expect(rows.nth(3).get_by_role("alert")).to_have_text(
        "Step 'd' runs after 'c', so it must stay below it."
    )
    page.get_by_role("button", name="Move c up").click()  # c runs after a only: fine
    expect(page.locator("#step-list .step-name")).to_have_text(["a", "c", "b", "d"])
    expect(page.get_by_role("alert")).to_have_count(0)

    # b was left on its default, the step before it: that follows the new order.
    flow = FlowDefinition.objects.get(name="diamond").to_flow()
    assert [flow.dependencies(name) for name in "acbd"] == [(), ("a",), ("c",), ("b", "c")]
