"""The graph of a run follows it live in a real Chromium, over the run page's one WebSocket
(the ASGI server with its runner, live bridge and archiver); the editor's graph follows edits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import Page, expect

from flows import engine_client
from flows.definitions import editing
from flows.engine.builder import Flow, Step
from flows.roles import OPERATOR
from tests.browser.graph_page import WATCH_GRAPH, graph_node
from tests.web.graph_flows import diamond

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _launched(flow: Flow) -> str:
    """Launch out of the thread that runs Playwright's event loop."""

    def launch() -> str:
        try:
            return engine_client.launch(flow, {}, {"launched_by": "graph test"})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(launch).result()


def test_a_node_turns_completed_live_and_links_to_its_row(page: Page, asgi_server, live_log_in):
    slow = 'mock_api("slow", delay=0.6)'
    editing.create_from_flow(Flow("slow_two", (Step("first", slow), Step("second", slow))))
    live_log_in(page, OPERATOR)
    page.goto(f"{asgi_server}/flows/slow_two/launch/")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator(".live-indicator")).to_have_text("Live")
    page.evaluate(WATCH_GRAPH)

    expect(graph_node(page, "second")).to_have_attribute("data-status", "completed")

    expect(graph_node(page, "first")).to_have_attribute("data-status", "completed")
    expect(graph_node(page, "second").locator(".graph-node-status")).to_have_text("completed")
    # Seen moving on the open page, not only drawn finished.
    assert page.evaluate("graphSeen.second")[-2:] == ["running", "completed"]
    graph_node(page, "second").click()
    assert page.url.endswith("#step-row-second")
    expect(page.locator("#step-row-second")).to_be_in_viewport()


def test_a_diamonds_branches_complete_live_and_the_skipped_one_turns_grey(
    page: Page, asgi_server, live_log_in
):
    slow = 'mock_api("slow", delay=0.5)'
    diamond_run = diamond(a_script=slow, middle_script=slow)
    live_log_in(page, OPERATOR)
    flow_id = _launched(diamond_run)
    page.goto(f"{asgi_server}/runs/{flow_id}/")
    expect(page.locator(".live-indicator")).to_have_text("Live")
    page.evaluate(WATCH_GRAPH)

    expect(page.locator("#run-summary")).to_have_attribute("data-status", "completed")

    for step in ("a", "b", "d"):
        expect(graph_node(page, step)).to_have_attribute("data-status", "completed")
    skipped = graph_node(page, "c")
    expect(skipped).to_have_attribute("data-status", "skipped")
    expect(skipped.locator(".graph-node-status")).to_have_text("skipped")
    grey = "rgb(156, 163, 175)"  # --status-skipped
    expect(skipped.locator("rect")).to_have_css("stroke", grey)
    expect(skipped.locator("rect")).to_have_css("stroke-dasharray", "6px, 4px")
    expect(page.locator("#step-row-c .badge")).to_have_text("skipped")
    seen = page.evaluate("graphSeen")
    assert seen["b"][-2:] == ["running", "completed"]
    assert seen["d"][-1] == "completed" and len(seen["d"]) > 1
    assert seen["c"][-1] == "skipped" and len(seen["c"]) > 1


def test_the_editors_graph_follows_its_steps_as_they_change(page: Page, live_server, log_in):
    editing.create_from_flow(Flow("growing", (Step("first", "1"), Step("second", "2"))))
    log_in(page, OPERATOR)
    page.goto(f"{live_server.url}/flows/growing/")
    expect(page.locator(".graph-node")).to_have_count(2)

    page.get_by_role("button", name="Add step").click()
    form = page.locator("#step-form-new")
    form.get_by_label("Step name").fill("third")
    form.locator(".CodeMirror").click()
    page.keyboard.type("3")
    form.get_by_role("button", name="Save step").click()

    expect(page.locator(".graph-node")).to_have_count(3)
    expect(
        page.locator('.graph-edges path[data-source="second"][data-target="third"]')
    ).to_have_count(1)

    page.get_by_role("button", name="Move third up").click()

    expect(
        page.locator('.graph-edges path[data-source="third"][data-target="second"]')
    ).to_have_count(1)
    graph_node(page, "first").click()
    expect(page.locator("#step-list li").first).to_be_in_viewport()
