"""The flow graph's layered layout (flows/graph_layout.py): pure, no database."""

from __future__ import annotations

import os
import subprocess
import sys

from flows import new_flow, new_step
from flows.graph_layout import GraphLayout, PlacedNode, lay_out, lay_out_flow
from tests.web.graph_flows import diamond


def _layers(layout: GraphLayout) -> list[list[str]]:
    """Step names per layer, top to bottom."""
    layers: dict[int, list[PlacedNode]] = {}
    for node in layout.nodes:
        layers.setdefault(node.layer, []).append(node)
    return [[node.name for node in sorted(layers[i], key=lambda n: n.y)] for i in sorted(layers)]


def _boxes_overlap(a: PlacedNode, b: PlacedNode, layout: GraphLayout) -> bool:
    return abs(a.x - b.x) < layout.node_width and abs(a.y - b.y) < layout.node_height


def _assert_well_formed(layout: GraphLayout) -> None:
    names = [node.name for node in layout.nodes]
    assert len(set(names)) == len(names)
    for i, a in enumerate(layout.nodes):
        for b in layout.nodes[i + 1 :]:
            assert not _boxes_overlap(a, b, layout), (a, b)
        assert a.x >= 0 and a.x + layout.node_width <= layout.width
        assert a.y >= 0 and a.y + layout.node_height <= layout.height
    assert {edge.source for edge in layout.edges} <= set(names)
    assert {edge.target for edge in layout.edges} <= set(names)


def test_a_diamond_has_three_layers_and_an_edge_per_dependency():
    layout = lay_out_flow(diamond())

    assert _layers(layout) == [["a"], ["b", "c"], ["d"]]
    assert sorted((e.source, e.target) for e in layout.edges) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "d"),
        ("c", "d"),
    ]
    _assert_well_formed(layout)


def test_arrows_point_right_from_the_dependency_to_its_step():
    layout = lay_out_flow(diamond())
    x = {node.name: node.x for node in layout.nodes}

    assert all(x[edge.source] < x[edge.target] for edge in layout.edges)
    for edge in layout.edges:
        start = edge.path.split()[0]
        assert start == f"M{x[edge.source] + layout.node_width},{start.split(',')[1]}"
        assert edge.path.split()[-1].startswith(f"{x[edge.target]},")


def test_a_linear_flow_is_one_row_with_a_layer_per_step():
    builder = new_flow("chain")
    for index in range(50):
        builder.add_step(new_step(f"s{index}").script("1").build())
    layout = lay_out_flow(builder.build())

    assert _layers(layout) == [[f"s{index}"] for index in range(50)]
    assert len({node.y for node in layout.nodes}) == 1
    assert len(layout.edges) == 49
    _assert_well_formed(layout)


def test_a_fan_out_of_50_is_one_layer_between_its_start_and_its_join():
    graph = [("start", [])] + [(f"b{i}", ["start"]) for i in range(50)]
    graph.append(("join", [f"b{i}" for i in range(50)]))
    layout = lay_out(graph)

    assert _layers(layout) == [["start"], [f"b{i}" for i in range(50)], ["join"]]
    assert len(layout.edges) == 100
    _assert_well_formed(layout)


def test_a_step_lies_one_layer_past_its_furthest_dependency():
    layout = lay_out([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a", "c"])])

    assert _layers(layout) == [["a"], ["b"], ["c"], ["d"]]


def test_an_arrow_spanning_layers_runs_beside_the_steps_between_not_through_them():
    layout = lay_out([("a", []), ("b", ["a"]), ("d", ["a", "b"])])
    node = {n.name: n for n in layout.nodes}
    skip = next(e for e in layout.edges if (e.source, e.target) == ("a", "d"))
    # The straight part through layer 1 is beside b, at a height b does not cover.
    across = [part for part in skip.path.split() if part.startswith("L")]
    assert across
    y = int(across[0].split(",")[1])
    assert not node["b"].y <= y <= node["b"].y + layout.node_height


def test_ordering_removes_crossings_a_flow_order_would_have():
    # In flow order, x1 above x2 and y2 above y1 would cross twice.
    graph = [("x1", []), ("x2", []), ("y2", ["x2"]), ("y1", ["x1"])]
    layout = lay_out(graph)
    y = {node.name: node.y for node in layout.nodes}

    assert (y["x1"] < y["x2"]) == (y["y1"] < y["y2"])


def test_dependencies_on_unknown_steps_and_circles_still_lay_out():
    layout = lay_out([("a", ["ghost"]), ("b", ["c"]), ("c", ["b"])])

    assert {node.name for node in layout.nodes} == {"a", "b", "c"}
    _assert_well_formed(layout)


def test_the_layout_loads_no_django_module():
    code = (
        "import sys, flows.graph_layout\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )

    assert loaded.stdout.strip() == "[]"
