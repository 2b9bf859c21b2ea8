"""The graph drawn on the flow editor and on the run page (templates/flows/_graph.html)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from urllib.parse import unquote

from django.template.loader import render_to_string
from django.test import Client

from flows import engine_client
from flows.engine.statuses import FlowStatus, StepStatus
from flows.models import FlowDefinition
from flows.runs.fragments import run_context, run_graph
from flows.runs.groups import Abilities
from tests.web.graph_flows import diamond

SVG = "{http://www.w3.org/2000/svg}"
HTMX = {"HX-Request": "true"}


def _graph(content: str) -> ElementTree.Element:
    """The page's graph, parsed as XML: the SVG must be well-formed on its own."""
    found = re.search(r"<svg class=\"flow-graph-svg\".*?</svg>", content, re.S)
    assert found, "no graph on the page"
    return ElementTree.fromstring(found.group(0).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def _nodes(svg: ElementTree.Element) -> dict[str, ElementTree.Element]:
    return {node.get("data-step"): node for node in svg.iter(f"{SVG}a")}


def _edges(svg: ElementTree.Element) -> set[tuple[str, str]]:
    return {
        (e.get("data-source"), e.get("data-target"))
        for e in svg.iter(f"{SVG}path")
        if e.get("data-source")
    }


def _row_ids(content: str) -> set[str]:
    return set(re.findall(r'<(?:tr|li) id="([^"]+)"', content))


def test_the_run_page_draws_a_node_per_step_and_an_edge_per_dependency(viewer: Client):
    flow_id = engine_client.launch(diamond(), {}, {})

    content = viewer.get(f"/runs/{flow_id}/").content.decode()

    svg = _graph(content)
    assert set(_nodes(svg)) == {"a", "b", "c", "d"}
    assert _edges(svg) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}
    assert {node.get("data-status") for node in _nodes(svg).values()} == {"pending"}


def test_each_run_node_links_to_its_steps_row(viewer: Client):
    flow_id = engine_client.launch(diamond(), {}, {})

    content = viewer.get(f"/runs/{flow_id}/").content.decode()

    nodes = _nodes(_graph(content))
    for name, node in nodes.items():
        assert node.get("href") == f"#step-row-{name}"
        assert node.get("data-row") == f"step-row-{name}"
    assert {f"step-row-{name}" for name in nodes} <= _row_ids(content)


def test_step_names_are_escaped_in_the_graph_and_their_links_still_reach_the_rows(viewer: Client):
    name = 'x<b>"&y'
    flow_id = engine_client.launch(diamond(middle=name), {}, {})

    content = viewer.get(f"/runs/{flow_id}/").content.decode()

    assert "<b>" not in content
    node = _nodes(_graph(content))[name]
    assert node.findtext(f"{SVG}title") == f"{name}: pending"
    # The browser looks the fragment up percent-decoded: the row's id, as the page holds it.
    assert unquote(node.get("href")[1:]) == f"step-row-{name}"
    assert 'id="step-row-x&lt;b&gt;&quot;&amp;y"' in content


def test_each_node_carries_its_steps_status_in_words_too(db):
    flow_id = engine_client.launch(diamond(), {}, {})
    run = engine_client.read_run(flow_id)
    statuses = {"a": "completed", "b": "failed", "c": "skipped", "d": "cancelled"}
    steps = [replace(step, status=StepStatus(statuses[step.step_id])) for step in run.steps]

    content = render_to_string(
        "flows/_graph.html", {**run_graph(replace(run, steps=steps)), "show_status": True}
    )

    nodes = _nodes(_graph(content))
    for name, status in statuses.items():
        assert nodes[name].get("data-status") == status
        assert nodes[name].findtext(f"{SVG}text[@class='graph-node-status']") == status


def test_the_editor_draws_the_flow_with_nodes_linking_to_its_steps(viewer: Client, stripe):
    content = viewer.get(f"/flows/{stripe.name}/").content.decode()

    nodes = _nodes(_graph(content))
    steps = {step.name: step.pk for step in stripe.steps.all()}
    assert set(nodes) == set(steps)
    for name, node in nodes.items():
        assert node.get("href") == f"#step-{steps[name]}"
    assert {f"step-{pk}" for pk in steps.values()} <= _row_ids(content)
    assert _edges(_graph(content)) == {
        ("stripe_config", "stripe_config_confirm"),
        ("stripe_config_confirm", "create_product"),
    }


def test_the_editors_graph_follows_each_change_to_the_steps(operator: Client, stripe):
    section = operator.get(f"/flows/{stripe.name}/graph/", headers=HTMX).content.decode()

    assert section.lstrip().startswith('<section id="flow-graph-section"')
    assert "hx-trigger=\"htmx:oobAfterSwap[target.id=='flow-version'] from:body\"" in section
    assert len(_nodes(_graph(section))) == 3


def test_a_flow_without_steps_draws_no_graph(operator: Client, db):
    empty = FlowDefinition.objects.create(name="empty")

    content = operator.get(f"/flows/{empty.name}/").content.decode()

    assert 'id="flow-graph-section"' in content
    assert "flow-graph-svg" not in content


def test_the_summary_names_the_running_steps_when_more_than_one_runs(db):
    run = engine_client.read_run(engine_client.launch(diamond(), {}, {}))
    run = replace(run, state=replace(run.state, current_step="b", running_steps=["b", "c"]))

    summary = render_to_string("flows/_run_summary.html", run_context(run, Abilities(True, False)))

    assert "2 running: b, c" in summary
    assert "The running steps <strong>b, c</strong> are stopped" in summary


def test_the_summary_counts_skipped_steps_as_done_with(db):
    run = engine_client.read_run(engine_client.launch(diamond(), {}, {}))
    state = replace(run.state, completed_steps=["a", "b"], skipped_steps=["c"])

    context = run_context(replace(run, state=state), Abilities(False, False))
    summary = render_to_string("flows/_run_summary.html", context)

    assert "2 of 4 steps completed, 1 skipped" in summary
    assert 'value="3" max="4"' in summary


def test_a_retry_in_a_graph_reruns_every_step_not_yet_completed_or_skipped(db):
    run = engine_client.read_run(engine_client.launch(diamond(), {}, {}))
    # b failed while c, on the other branch, was skipped: a retry runs b, then d.
    state = replace(
        run.state,
        status=FlowStatus.FAILED,
        current_step="b",
        completed_steps=["a"],
        skipped_steps=["c"],
    )

    context = run_context(replace(run, state=state), Abilities(False, True))

    assert (context["failed_step"], context["rerun_steps"]) == ("b", ["b", "d"])
