"""A scheduler in an OS process of its own, under the clock of the test that races three of
them (test_schedule_processes.py), on a site database the processes share:

    python -m tests.web.scheduler_process prepare EXPRESSION...  # prints the new schedules' ids
    python -m tests.web.scheduler_process tick    # a tick per line of stdin, at the time it holds
    python -m tests.web.scheduler_process report  # the runs the schedules started, as JSON

`tick` reads an ISO time from each line of stdin, ticks the real Scheduler at that time, and
answers with a line of the fire times it launched. The test hands every process the same time,
so they race for each fire time as schedulers in separate web workers do; nobody sleeps.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import django


def prepare(expressions: list[str]) -> list[int]:
    """A flow with a schedule per expression (UTC), saved by a user for their runs."""
    from django.contrib.auth.models import User

    from flows.definitions import editing
    from flows.definitions.examples import stripe_payment_request
    from flows.models import Schedule

    planner = User.objects.create(username="planner")
    flow = editing.create_from_flow(stripe_payment_request())
    schedules = [Schedule(flow=flow, expression=text, updated_by=planner) for text in expressions]
    return [schedule.pk for schedule in Schedule.objects.bulk_create(schedules)]


async def tick_as_told() -> None:
    from tests.web.schedule_clock import Clock, scheduler_at

    clock = Clock(datetime.fromisoformat(sys.stdin.readline().strip()))
    scheduler = scheduler_at(clock)
    try:
        while True:
            launched = await scheduler.tick()
            answer = [(schedule_id, fire_at.isoformat()) for schedule_id, fire_at in launched]
            print(json.dumps(answer), flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:  # the test closed stdin: done
                return
            clock.at = datetime.fromisoformat(line.strip())
    finally:
        await scheduler.close()


def report() -> list[dict[str, object]]:
    from flows.models import ScheduledRun

    started = ScheduledRun.objects.select_related("run").order_by("fire_at", "schedule")
    return [
        {
            "schedule": run.schedule_id,
            "fire_at": run.fire_at.isoformat(),
            "flow_id": run.run.flow_id,
            "trigger": run.run.trigger_kind,
        }
        for run in started
    ]


if __name__ == "__main__":
    django.setup()
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "prepare":
        print(json.dumps(prepare(arguments)))
    elif command == "tick":
        asyncio.run(tick_as_told())
    elif command == "report":
        print(json.dumps(report()))
    else:
        sys.exit(f"unknown command {command!r}: prepare, tick or report")
