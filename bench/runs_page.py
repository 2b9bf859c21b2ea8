"""Runs page benchmark (not a test): server time of the Runs page over 100,000 archived runs.

`python bench/runs_page.py` builds a throwaway SQLite database under a temporary directory (or
uses $DATABASE_URL, whose runs it adds to), archives 100,000 runs into it, and prints the
median and p95 of the first page, a page filtered by flow and status, and a page deep in the
list (keyset pagination). Target: <= 100 ms each. Talks to no network server.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

RUNS = 100_000
REPEATS = 30

workdir = tempfile.mkdtemp(prefix="flowsite-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
os.environ.setdefault("FLOWSITE_VAR_DIR", workdir)
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from flows.models import RunRecord  # noqa: E402

STATUSES = ["completed"] * 8 + ["failed", "cancelled"]


def archive_runs() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = []
    for number in range(RUNS):
        batch.append(
            RunRecord(
                flow_id=f"bench{number:027}",
                name=f"flow{number % 20}",
                status=STATUSES[number % len(STATUSES)],
                created_at=start + timedelta(seconds=number),
                step_count=5,
                completed_count=5,
                launched_by="bench",
            )
        )
        if len(batch) == 5_000:
            RunRecord.objects.bulk_create(batch)
            batch = []


def timings(client: Client, path: str) -> list[float]:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    call_command("migrate", verbosity=0)
    archive_runs()
    user = User.objects.create_superuser("bench-runs", password="unused-password-1")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    deep = RunRecord.objects.order_by("-created_at")[RUNS // 2]
    cursor = f"{deep.created_at.isoformat()}~{deep.flow_id}"
    pages = {
        "first page": "/runs/",
        "filtered (flow7, failed)": "/runs/?flow=flow7&status=failed",
        "page in the middle": f"/runs/?{urlencode({'cursor': cursor})}",
    }
    print(f"Runs page over {RunRecord.objects.count():,} archived runs ({REPEATS} requests each)")
    for label, path in pages.items():
        times = sorted(timings(client, path))
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"  {label:28} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
