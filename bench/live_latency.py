"""Live latency benchmark (not a test): from a transition in the runner to the swapped element
in an open Chromium page. Target: p95 <= 50 ms.

`python bench/live_latency.py` serves the site with uvicorn on 127.0.0.1 (runner, live bridge
and archiver in its lifespan) against $REDIS_URL under a fresh key prefix (deleted afterwards)
and a throwaway SQLite database (bench/_support.py), opens a run of STEPS steps spaced
STEP_SECONDS apart, and compares each summary's data-at (the transition's Redis time) with the
moment the page swapped it in.
"""

from __future__ import annotations

import statistics

from _support import PASSWORD, USERNAME, Site, served_site
from playwright.sync_api import expect, sync_playwright

STEPS = 60
STEP_SECONDS = 0.1
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RECORD_SWAPS = """() => {
  window.latencies = [];
  new MutationObserver((changes) => {
    const now = performance.timeOrigin + performance.now();
    for (const change of changes) for (const node of change.addedNodes) {
      if (node.id === "run-summary" && node.dataset.at) {
        latencies.push(now - parseFloat(node.dataset.at) * 1000);
      }
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""


def define_flow(site: Site) -> None:
    steps = ", ".join(
        f'{{"name": "s{n}", "script": "mock_api(\\"slow\\", delay={STEP_SECONDS})"}}'
        for n in range(STEPS)
    )
    definition = f'{{"name": "latency", "steps": [{steps}]}}'
    script = (
        "from flows.definitions.portable import parse_import; "
        "from flows.definitions import editing; "
        f"editing.create_from_flow(parse_import({definition!r})[0])"
    )
    site.manage("shell", "-c", script)


def main() -> None:
    with served_site() as site:
        define_flow(site)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(f"{site.base}/flows/latency/launch/")
            page.get_by_label("Username").fill(USERNAME)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("button", name="Launch").click()
            page.wait_for_url("**/runs/*/")
            page.evaluate(RECORD_SWAPS)
            summary = page.locator("#run-summary")
            expect(summary).to_have_attribute("data-status", "completed", timeout=120_000)
            latencies = sorted(page.evaluate("latencies"))
            browser.close()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"Transition in the runner -> swapped in the page, {len(latencies)} updates:")
    median = statistics.median(latencies)
    print(f"  median {median:.1f} ms   p95 {p95:.1f} ms   max {latencies[-1]:.1f} ms")


if __name__ == "__main__":
    main()
