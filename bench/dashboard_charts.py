"""Dashboard benchmark (not a test): server time of the dashboard, charts included, over
100,000 archived runs, all of them launched in the week its charts cover (their worst case).

`python bench/dashboard_charts.py` builds a throwaway SQLite database under a temporary
directory, or uses $DATABASE_URL (give it a database of its own: its runs are added to it),
archives 100,000 runs of 20 flows with mixed statuses and durations, and prints the median and
p95 of `GET /` and of the chart queries alone. Target: <= 100 ms. Talks to no network server
besides $DATABASE_URL's.
"""

from __future__ import annotations

import random
from datetime import timedelta

from _archive import report, set_up_django

RUNS = 100_000
REPEATS = 30

set_up_django()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from flows.models import RunRecord  # noqa: E402
from flows.runs.charts import chart_data  # noqa: E402

STATUSES = ["completed"] * 8 + ["failed", "cancelled"]
GOING = 20  # the newest runs are still running


def archive_runs() -> None:
    """RUNS runs spread evenly over the last week, newest now."""
    shuffle = random.Random(15)
    now = timezone.now()
    spacing = timedelta(days=7) / RUNS
    batch = []
    for number in range(RUNS):
        created = now - number * spacing
        status = "running" if number < GOING else STATUSES[number % len(STATUSES)]
        ended = status != "running"
        seconds = shuffle.lognormvariate(1, 1)
        batch.append(
            RunRecord(
                flow_id=f"bench{number:027}",
                name=f"flow{number % 20}",
                status=status,
                created_at=created,
                started_at=created,
                finished_at=created + timedelta(seconds=seconds) if ended else None,
                step_count=5,
                completed_count=5 if ended else 2,
                launched_by="bench",
            )
        )
        if len(batch) == 5_000:
            RunRecord.objects.bulk_create(batch)
            batch = []


def dashboard(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200, response.status_code
    assert b'id="dashboard-charts"' in response.content


def main() -> None:
    call_command("migrate", verbosity=0)
    archive_runs()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE flows_runrecord")  # as autovacuum would, soon
    user = User.objects.create_superuser("bench-charts", password="unused-password-1")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    print(
        f"Dashboard over {RunRecord.objects.count():,} archived runs, all in the last week "
        f"({connection.vendor}, {REPEATS} requests each)"
    )
    report("GET / (whole page)", lambda: dashboard(client), REPEATS)
    report("chart queries alone", chart_data, REPEATS)


if __name__ == "__main__":
    main()
