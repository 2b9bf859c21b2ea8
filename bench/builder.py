"""Server time of the builder's heaviest pages: the flows list with 1,000 definitions (each
with a real run in Redis) and the flow editor with 50 steps. Target: <= 50 ms each.

    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/builder.py

Runs in a throwaway test database and under its own Redis key prefix, removed afterwards.
Times each request through Django's whole stack (middleware, auth, views, templates, Redis).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
os.environ["FLOWS_KEY_PREFIX"] = "bench-builder:"

import django

django.setup()

from _support import delete_prefix  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

FLOWS = 1000
EDITOR_STEPS = 50
WARMUP = 5
REPEATS = 50
TARGET_MS = 50.0


async def _launch_runs(launches: list[tuple]) -> list:
    """Launch one run per (engine flow, definition id); return their RunRecords, unsaved, as
    flows.definitions.editing.launch() stores them."""
    from flows.engine.executor import FlowExecutor
    from flows.runs.records import new_record

    async with FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as executor:
        run_ids = [
            await executor.execute_flow(
                flow, {"n": 1}, meta={"launched_by": "bench", "definition_id": definition_id}
            )
            for flow, definition_id in launches
        ]
        runs = await executor.read_runs(run_ids)
    return [new_record(run) for run in runs]


def _populate() -> tuple[Client, str]:
    from flows.definitions import editing
    from flows.engine.builder import Flow, Step
    from flows.models import FlowDefinition, RunRecord

    steps = tuple(Step(f"step_{i}", f'log("step {i}")\n{{"i": {i}}}\n') for i in range(3))
    engine_flows = [Flow(f"flow_{number:04}", steps) for number in range(FLOWS)]
    stored = [editing.create_from_flow(flow, description="bench") for flow in engine_flows]
    launches = [
        (flow, definition.pk) for flow, definition in zip(engine_flows, stored, strict=True)
    ]
    RunRecord.objects.bulk_create(asyncio.run(_launch_runs(launches)))
    big = Flow("editor_50", tuple(Step(f"step_{i}", "x = 1\nx\n") for i in range(EDITOR_STEPS)))
    editing.create_from_flow(big)
    assert FlowDefinition.objects.count() == FLOWS + 1

    user = User.objects.create_user("bench")
    user.groups.add(Group.objects.get(name="Operator"))
    client = Client()
    client.force_login(user)
    return client, big.name


def _measure(client: Client, path: str) -> tuple[float, float, int]:
    for _ in range(WARMUP):
        assert client.get(path).status_code == 200
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(queries)


def main() -> int:
    # Not setup_test_environment(): its template instrumentation would be timed too.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = (
        None if connection.vendor == "sqlite" else "test_flowsite_bench"
    )
    original_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        client, editor_name = _populate()
        pages = {
            f"flows list, {FLOWS} definitions": "/flows/",
            f"flow editor, {EDITOR_STEPS} steps": f"/flows/{editor_name}/",
        }
        print(f"database: {connection.vendor}; {REPEATS} requests each after {WARMUP} warm-up")
        slow = False
        for label, path in pages.items():
            median, p95, queries = _measure(client, path)
            slow |= median > TARGET_MS
            print(f"{label:32} median {median:6.1f} ms   p95 {p95:6.1f} ms   {queries} queries")
        print(f"target: median <= {TARGET_MS:.0f} ms: {'MISSED' if slow else 'met'}")
        return 1 if slow else 0
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        delete_prefix(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)


if __name__ == "__main__":
    sys.exit(main())
