"""Where a flow's steps go in its graph: a layered layout of our own, left to right.

Each step stands in a column (layer) one past the furthest of its dependencies (longest-path
layering), so every arrow points right. An arrow that spans columns passes through a gap of
its own in each column between (a placeholder), so it never runs through a step. Within a
column, steps are ordered by the mean position of their neighbours in the next column
(barycenter sweeps), keeping the order with the fewest crossings. Pure Python on plain data:
no Django, no JavaScript; the SVG is drawn by templates/flows/_graph.html.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from flows.engine.builder import Flow

NODE_WIDTH = 168
NODE_HEIGHT = 44
COLUMN_GAP = 48  # between a column's nodes and the next column's
ROW_GAP = 12
MARGIN = 8
CENTRED_ROWS = 7  # about what the page shows of the graph before it scrolls
SWEEPS = 8  # barycenter passes, alternating rightward and leftward


@dataclass(frozen=True)
class PlacedNode:
    name: str
    layer: int
    row: int  # slot within its layer, placeholders counted
    x: int
    y: int


@dataclass(frozen=True)
class EdgePath:
    source: str
    target: str
    path: str  # an SVG path's "d": numbers only


@dataclass(frozen=True)
class GraphLayout:
    nodes: tuple[PlacedNode, ...]
    edges: tuple[EdgePath, ...]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


@dataclass(frozen=True)
class DrawnNode:
    """A node as templates/flows/_graph.html draws it: where, which row it links to (the id of
    the step's row on the page), and its status ("" where a graph shows none)."""

    name: str
    x: int
    y: int
    anchor: str
    status: str


@dataclass(frozen=True)
class _Placeholder:
    """A slot an arrow passes through in a layer between its ends."""

    source: str
    target: str
    layer: int


def lay_out_flow(flow: Flow) -> GraphLayout:
    return lay_out([(step.name, flow.dependencies(step.name)) for step in flow.steps])


def drawn_nodes(
    layout: GraphLayout, anchors: Mapping[str, str], statuses: Mapping[str, str]
) -> list[DrawnNode]:
    return [
        DrawnNode(node.name, node.x, node.y, anchors[node.name], statuses.get(node.name, ""))
        for node in layout.nodes
    ]


def lay_out(graph: Sequence[tuple[str, Sequence[str]]]) -> GraphLayout:
    """Place each (step, its dependencies); dependencies that are not steps are ignored."""
    names = [name for name, _ in graph]
    known = set(names)
    dependencies = {
        name: [d for d in dict.fromkeys(after) if d in known and d != name] for name, after in graph
    }
    layer_of = _layers(names, dependencies)
    layers, chains = _with_placeholders(names, dependencies, layer_of)
    layers = _ordered(layers, chains)
    slot = {
        item: (index, row) for index, layer in enumerate(layers) for row, item in enumerate(layer)
    }
    tallest = max((len(layer) for layer in layers), default=0)
    position = {
        item: _position(index, row, len(layers[index]), tallest)
        for item, (index, row) in slot.items()
    }
    nodes = tuple(PlacedNode(name, *slot[name], *position[name]) for name in names)
    edges = tuple(
        EdgePath(chain[0], chain[-1], _path([position[item] for item in chain])) for chain in chains
    )
    width = 2 * MARGIN + len(layers) * NODE_WIDTH + max(len(layers) - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    return GraphLayout(nodes, edges, width, height)


def _layers(names: list[str], dependencies: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest-path layers in topological order (Kahn's, no recursion: a flow may have
    thousands of steps in a line). Steps in a circle, which the builder refuses, go last."""
    waiting = {name: len(dependencies[name]) for name in names}
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for dependency in dependencies[name]:
            dependents[dependency].append(name)
    layer_of: dict[str, int] = {}
    ready = [name for name in names if not waiting[name]]
    while ready:
        name = ready.pop()
        layer_of[name] = max((layer_of[d] + 1 for d in dependencies[name]), default=0)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                ready.append(dependent)
    last = max(layer_of.values(), default=-1) + 1
    return {name: layer_of.get(name, last) for name in names}


def _with_placeholders(
    names: list[str], dependencies: Mapping[str, list[str]], layer_of: Mapping[str, int]
) -> tuple[list[list[object]], list[list[object]]]:
    """The layers (steps in flow order, then placeholders) and each arrow as the chain of items
    it passes through, from its dependency to its step."""
    layers: list[list[object]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for name in names:
        layers[layer_of[name]].append(name)
    chains: list[list[object]] = []
    for name in names:
        for dependency in dependencies[name]:
            chain: list[object] = [dependency]
            # Backwards only inside a circle: such an arrow is drawn straight back.
            for layer in range(layer_of[dependency] + 1, layer_of[name]):
                placeholder = _Placeholder(dependency, name, layer)
                layers[layer].append(placeholder)
                chain.append(placeholder)
            chains.append([*chain, name])
    return layers, chains


def _ordered(layers: list[list[object]], chains: list[list[object]]) -> list[list[object]]:
    """Barycenter sweeps: each layer sorted by its items' mean neighbour position in the layer
    before (rightward passes) or after (leftward passes); the best order seen is kept."""
    left: dict[object, list[object]] = {}
    right: dict[object, list[object]] = {}
    for chain in chains:
        for before, after in pairwise(chain):
            right.setdefault(before, []).append(after)
            left.setdefault(after, []).append(before)
    best, fewest = [list(layer) for layer in layers], _crossings(layers, right)
    current = best
    for sweep in range(SWEEPS):
        rightward = sweep % 2 == 0
        current = [list(layer) for layer in current]
        indices = range(1, len(current)) if rightward else range(len(current) - 2, -1, -1)
        for index in indices:
            neighbours = left if rightward else right
            fixed = current[index - 1] if rightward else current[index + 1]
            current[index] = _by_barycenter(current[index], fixed, neighbours)
        crossings = _crossings(current, right)
        if crossings < fewest:
            best, fewest = current, crossings
    return best


def _by_barycenter(
    layer: list[object], fixed: list[object], neighbours: Mapping[object, list[object]]
) -> list[object]:
    where = {item: row for row, item in enumerate(fixed)}

    def key(row_and_item: tuple[int, object]) -> float:
        row, item = row_and_item
        rows = [where[n] for n in neighbours.get(item, []) if n in where]
        # An item with no neighbour there keeps its place.
        return sum(rows) / len(rows) if rows else row

    return [item for _, item in sorted(enumerate(layer), key=key)]


def _crossings(layers: list[list[object]], right: Mapping[object, list[object]]) -> int:
    count = 0
    for layer, following in pairwise(layers):
        where = {item: row for row, item in enumerate(following)}
        ends = sorted(
            (row, where[after])
            for row, item in enumerate(layer)
            for after in right.get(item, [])
            if after in where
        )
        # Two arrows cross when the one starting higher ends lower: count, for each arrow in
        # order of its start, those before it that end below its end (a shared end is no
        # crossing).
        seen: list[int] = []
        for _, end in ends:
            count += len(seen) - bisect_right(seen, end)
            insort(seen, end)
    return count


def _position(layer: int, row: int, count: int, tallest: int) -> tuple[int, int]:
    """Top-left corner of a slot. A shorter layer is centred on the tallest one, or on its
    first CENTRED_ROWS when taller: the step before a fan-out of fifty is then in view at
    the top of the graph, not scrolled away halfway down."""
    pitch = NODE_HEIGHT + ROW_GAP
    x = MARGIN + layer * (NODE_WIDTH + COLUMN_GAP)
    y = MARGIN + row * pitch + max(min(tallest, CENTRED_ROWS) - count, 0) * pitch // 2
    return x, y


def _path(corners: list[tuple[int, int]]) -> str:
    """From the right edge of the first item to the left edge of the last, straight across
    placeholders' slots and in an S-curve between columns."""
    middle = NODE_HEIGHT // 2
    points = []
    for index, (x, y) in enumerate(corners):
        if index:
            points.append((x, y + middle))
        if index < len(corners) - 1:
            points.append((x + NODE_WIDTH, y + middle))
    start_x, start_y = points[0]
    parts = [f"M{start_x},{start_y}"]
    for (x0, y0), (x1, y1) in pairwise(points):
        if y0 == y1 or x1 <= x0:
            parts.append(f"L{x1},{y1}")
        else:
            bend = (x1 - x0) // 2
            parts.append(f"C{x0 + bend},{y0} {x1 - bend},{y1} {x1},{y1}")
    return " ".join(parts)
