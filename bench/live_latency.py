"""Live latency benchmark (not a test): from a transition in the runner to the swapped element
in an open Chromium page. Target: p95 <= 50 ms.

`python bench/live_latency.py` serves the site with uvicorn on 127.0.0.1 (runner, live bridge
and archiver in its lifespan) against $REDIS_URL under a fresh key prefix and a throwaway SQLite
database, opens a run of STEPS steps spaced STEP_SECONDS apart, and compares each summary's
data-at (the transition's Redis time) with the moment the page swapped it in.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid

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


def serve(environment: dict[str, str]) -> tuple[subprocess.Popen, str]:
    python = sys.executable
    for command in (["migrate", "-v0"], ["bootstrap"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([python, "manage.py", *command], env=environment, check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [python, "-m", "uvicorn", "flowsite.asgi:application", "--port", str(port)]
    command += ["--lifespan", "on", "--ws", "websockets-sansio", "--no-access-log"]
    server = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    for line in server.stderr:  # blocks until uvicorn reports start-up
        if "startup complete" in line:
            break
    # Keep reading its log, so a full pipe never blocks the server.
    threading.Thread(target=server.stderr.read, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def define_flow(environment: dict[str, str]) -> None:
    steps = ", ".join(
        f'{{"name": "s{n}", "script": "mock_api(\\"slow\\", delay={STEP_SECONDS})"}}'
        for n in range(STEPS)
    )
    definition = f'{{"name": "latency", "steps": [{steps}]}}'
    script = (
        "from flows.portable import parse_import; from flows import definitions; "
        f"definitions.create_from_flow(parse_import({definition!r})[0])"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], env=environment, check=True
    )


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="flowsite-bench-")
    environment = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        FLOWSITE_VAR_DIR=workdir,
        FLOWS_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:8]}:",
        DJANGO_SUPERUSER_USERNAME="bench",
        DJANGO_SUPERUSER_PASSWORD="bench-password-1",
        LOG_LEVEL="WARNING",
    )
    server, base = serve(environment)
    try:
        define_flow(environment)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(f"{base}/flows/latency/launch/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill("bench-password-1")
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("button", name="Launch").click()
            page.wait_for_url("**/runs/*/")
            page.evaluate(RECORD_SWAPS)
            summary = page.locator("#run-summary")
            expect(summary).to_have_attribute("data-status", "completed", timeout=120_000)
            latencies = sorted(page.evaluate("latencies"))
            browser.close()
    finally:
        server.terminate()
        server.wait()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"Transition in the runner -> swapped in the page, {len(latencies)} updates:")
    median = statistics.median(latencies)
    print(f"  median {median:.1f} ms   p95 {p95:.1f} ms   max {latencies[-1]:.1f} ms")


if __name__ == "__main__":
    main()
