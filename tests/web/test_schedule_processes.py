"""Three scheduler processes (as three web workers, or runflows on three machines) fire the same
schedules over many fire times: each fire time launches exactly one run, none is missed.

Each process runs the real Scheduler against the real Redis and a site database the three
share (a migrated SQLite file of this test's), under a clock this test moves in lockstep
through stdin (tests/web/scheduler_process.py): every tick, all three race for the same fire
times."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.engine import FlowExecutor
from tests.site_settings import site_environment

PROCESSES = 3
MODULE = [sys.executable, "-m", "tests.web.scheduler_process"]
ROOT = Path(__file__).resolve().parents[2]  # where `tests` and manage.py are found


@pytest.fixture
def site(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """The environment of a site on a freshly migrated SQLite database under tmp_path."""
    environment = site_environment(
        tmp_path, REDIS_URL=redis_url, DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}"
    )
    migrate = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
    subprocess.run(migrate, env=environment, cwd=ROOT, check=True)
    return environment


def _run(site: dict[str, str], *arguments: str) -> object:
    done = subprocess.run(
        [*MODULE, *arguments], env=site, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def _start_schedulers(site: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    """Scheduler processes, each waiting for its first time on stdin (so they may start while
    the schedules are made)."""
    schedulers = []
    for number in range(PROCESSES):
        log = (logs / f"scheduler-{number}.log").open("w")
        schedulers.append(
            subprocess.Popen(
                [*MODULE, "tick"],
                env=site,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        )
        log.close()  # the child holds its own copy
    return schedulers


def _race(
    schedulers: list[subprocess.Popen], logs: Path, times: list[datetime]
) -> list[list[object]]:
    """Tick all the schedulers at each time, then stop them; what each one launched."""
    launched: list[list[object]] = [[] for _ in schedulers]
    try:
        for at in times:
            for scheduler in schedulers:  # the same time for all before any answers
                scheduler.stdin.write(at.isoformat() + "\n")
                scheduler.stdin.flush()
            for number, scheduler in enumerate(schedulers):
                line = scheduler.stdout.readline()
                assert line, (logs / f"scheduler-{number}.log").read_text()
                launched[number] += [tuple(fire) for fire in json.loads(line)]
    finally:  # closing stdin ends them; should a test fail, they end all the same
        for scheduler in schedulers:
            scheduler.stdin.close()
            scheduler.wait(30)
            scheduler.stdout.close()
    assert [scheduler.returncode for scheduler in schedulers] == [0] * PROCESSES
    return launched


def _flows_in_redis(redis_url: str, flow_ids: list[str]) -> int:
    async def count() -> int:
        async with FlowExecutor(redis_url) as executor:
            states = await asyncio.gather(*map(executor.get_flow_state, flow_ids))
        return sum(state is not None for state in states)

    return asyncio.run(count())


def test_three_scheduler_processes_launch_each_fire_time_exactly_once(
    site: dict[str, str], tmp_path: Path, redis_url: str
):
    schedulers = _start_schedulers(site, tmp_path)
    every_minute, every_two, hourly = _run(site, "prepare", "* * * * *", "*/2 * * * *", "@hourly")
    start = datetime(2026, 6, 1, 11, 51, 40, tzinfo=UTC)
    ticks = [start + timedelta(seconds=20 * n) for n in range(40)]  # to 12:04:40

    launched = _race(schedulers, tmp_path, ticks)

    minutes = [datetime(2026, 6, 1, 11, 52, tzinfo=UTC) + timedelta(minutes=n) for n in range(13)]
    expected = sorted(
        [(every_minute, minute.isoformat()) for minute in minutes]
        + [(every_two, minute.isoformat()) for minute in minutes if minute.minute % 2 == 0]
        + [(hourly, datetime(2026, 6, 1, 12, tzinfo=UTC).isoformat())]
    )
    assert (
        sorted(fire for each in launched for fire in each) == expected
    )  # once each, by one of the three
    runs = _run(site, "report")
    assert sorted((run["schedule"], run["fire_at"]) for run in runs) == expected
    assert {run["trigger"] for run in runs} == {"schedule"}
    flow_ids = [run["flow_id"] for run in runs]
    assert len(set(flow_ids)) == len(expected) == 21
    assert _flows_in_redis(redis_url, flow_ids) == len(expected)
