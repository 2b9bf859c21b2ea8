"""Reading the graph on an open page: which status each node has shown."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

# Records every status each graph node shows, to prove it changed on the open page.
WATCH_GRAPH = """() => {
  window.graphSeen = {};
  const note = (node) => {
    const seen = (graphSeen[node.dataset.step] ||= []);
    if (seen[seen.length - 1] !== node.dataset.status) { seen.push(node.dataset.status); }
  };
  document.querySelectorAll(".graph-node").forEach(note);
  new MutationObserver((changes) => changes.forEach((change) => note(change.target)))
    .observe(document.querySelector(".flow-graph-svg"),
             {attributes: true, attributeFilter: ["data-status"], subtree: true});
}"""


def graph_node(page: Page, step: str) -> Locator:
    return page.locator(f'.graph-node[data-step="{step}"]')
