"""Test runs of step scripts (the builder's Test step, the fix page's test), bounded.

A test run starts a sandbox worker process of its own and holds a web thread while it runs, so
many at once would crowd out everything else this web process does. At most
FLOWS_TEST_RUNS_AT_ONCE run at once in a web process, and one per user; past that a test run is
refused at once with "busy, try again", never queued (a queue would only hold more threads).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from flows import engine_client, step_access
from flows.engine.sandbox.starlark_runtime import ScriptRequest
from flows.process_wide import ProcessWide

# A test run holds a web thread while it runs, so it gets at most this long.
TEST_TIMEOUT_CAP_SECONDS = 30.0
RUNS_PER_USER = 1


class Busy(Exception):
    """No slot for this test run now; str() says why, for the user."""


class BoundedSlots:
    """Who holds a test-run slot in this process; safe to use from any thread."""

    def __init__(self, at_once: int, per_user: int) -> None:
        self.at_once = at_once
        self.per_user = per_user
        self._lock = threading.Lock()
        self._held: Counter[object] = Counter()  # slots held, by user

    @contextmanager
    def hold(self, user_id: object) -> Iterator[None]:
        """Hold a slot for the user while the block runs; raise Busy when there is none."""
        with self._lock:
            if self._held[user_id] >= self.per_user:
                raise Busy("You already have a test running: wait for its result, then try again.")
            if self._held.total() >= self.at_once:
                raise Busy(
                    f"The server is busy with {self.at_once} other test runs: "
                    "try again in a moment."
                )
            self._held[user_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[user_id] -= 1
                if not self._held[user_id]:
                    del self._held[user_id]


def _make_slots() -> BoundedSlots:
    return BoundedSlots(settings.FLOWS_TEST_RUNS_AT_ONCE, RUNS_PER_USER)


# One per process: two would each let FLOWS_TEST_RUNS_AT_ONCE through.
slots = ProcessWide(_make_slots)


def run_test(
    user_id: object, script: str, timeout: float, input: dict[str, Any], steps: dict[str, Any]
) -> dict[str, Any]:
    """Run the script once in the sandbox for this user, without creating a run. Returns what
    flows/_test_result.html shows: the result and its output as indented JSON, or, when the
    server is busy, the problem that kept it from running."""
    try:
        grant = step_access.grant_for_test(script)
    except ValueError as error:  # a secret the script names is not set
        return {"problems": [str(error)]}
    request = ScriptRequest(
        script=script,
        input=input,
        steps=steps,
        timeout=min(timeout, TEST_TIMEOUT_CAP_SECONDS),
        secrets=grant.secrets,
        http=grant.http,
    )
    try:
        with slots().hold(user_id):
            result = grant.redacted(engine_client.run_script_once(request))
    except Busy as busy:
        return {"problems": [str(busy)]}
    output = json.dumps(json.loads(result.output_json), indent=2) if result.ok else ""
    return {"result": result, "output": output}
