"""When each schedule fires next: the scheduler's cache, kept apart from Django and Redis.

Loaded from the active schedules whenever they change, it answers each tick with the fire
times that are due, by a heap ordered on time: a tick costs the schedules due, not the number
of schedules.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from flows.cron import Cron


@dataclass(frozen=True)
class Entry:
    """A schedule as the timetable needs it. `missed_since`: for a schedule that catches up,
    the moment after which a fire time not launched is owed (its last launch or its last
    change, the later); None for one that skips what it missed."""

    schedule_id: int
    cron: Cron
    missed_since: datetime | None = None


class Timetable:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int]] = []
        self._crons: dict[int, Cron] = {}

    def load(self, entries: list[Entry], since: datetime) -> list[tuple[int, datetime]]:
        """Replace the schedules with `entries`, each to fire next strictly after `since` (fire
        times up to `since` were the previous load's, or missed while nothing ran). Returns
        what catching up owes: each catching-up schedule's latest fire time at or before
        `since` that it has not launched."""
        self._crons = {entry.schedule_id: entry.cron for entry in entries}
        self._heap = []
        owed = []
        for entry in entries:
            self._push(entry.schedule_id, entry.cron.next_fire(since))
            if entry.missed_since is not None:
                latest = entry.cron.latest_fire(since)
                if latest is not None and latest > entry.missed_since:
                    owed.append((entry.schedule_id, latest))
        heapq.heapify(self._heap)
        return owed

    def due(self, now: datetime) -> list[tuple[int, datetime]]:
        """The fire times at or before `now`, one per schedule: a schedule that fell more than
        one fire time behind (the process stalled) fires for the latest, as after downtime."""
        due: dict[int, datetime] = {}
        while self._heap and self._heap[0][0] <= now:
            fire_at, schedule_id = heapq.heappop(self._heap)
            due[schedule_id] = fire_at
            cron = self._crons[schedule_id]
            upcoming = cron.next_fire(fire_at)
            while upcoming is not None and upcoming <= now:
                due[schedule_id], upcoming = upcoming, cron.next_fire(upcoming)
            if upcoming is not None:
                heapq.heappush(self._heap, (upcoming, schedule_id))
        return list(due.items())

    def __len__(self) -> int:
        return len(self._crons)

    def _push(self, schedule_id: int, fire_at: datetime | None) -> None:
        if fire_at is not None:
            self._heap.append((fire_at, schedule_id))
