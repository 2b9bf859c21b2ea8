"""Runs page benchmark (not a test): server time of the Runs page over 100,000 archived runs.

`python bench/runs_page.py` builds a throwaway SQLite database under a temporary directory (or
uses $DATABASE_URL, whose runs it adds to), archives 100,000 runs into it, and prints the
median and p95 of the first page, a page filtered by flow and status, and a page deep in the
list (keyset pagination). Target: <= 100 ms each. Talks to no network server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from _archive import report, set_up_django

RUNS = 100_000
REPEATS = 30

set_up_django()

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


def page(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)


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
        report(label, lambda path=path: page(client, path), REPEATS)


if __name__ == "__main__":
    main()
