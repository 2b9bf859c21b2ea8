"""The scheduler: launches each schedule's fire times, in every web process (a lifespan
service) and every `manage.py runflows`.

Every scheduler fires every due time; Redis lets one of them launch it. The claim is a
per-schedule high-water mark set in one script ("the latest fire time claimed"), so a fire
time is claimed once however many schedulers race, and a scheduler running late can never
launch a fire time older than one already claimed. With no scheduler up nothing fires; the next
one to start skips what was missed, or, for a schedule that catches up, launches the latest
missed fire time once. A launch that fails after its claim is logged and not tried again.

Each tick asks the database one cheap question (has any schedule changed?) and otherwise reads
only the timetable in memory. `now` is injectable: tests move the clock, they never sleep.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from channels.db import database_sync_to_async

from flows.background import RoundsUntilStopped
from flows.engine.concurrency import LimitReached
from flows.engine.connections import async_client
from flows.schedules import firing
from flows.schedules.timetable import Timetable

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
# After a tick fails (Redis or the database away): the next try, and how often it is logged.
FAILED_TICK_PAUSE_SECONDS = 5.0
# How long a claim outlives its fire time: longer than any scheduler lags behind the others,
# or takes to note a launch in the database (what a catch-up reads).
CLAIM_SECONDS = 24 * 3600

# KEYS: the schedule's claim; ARGV: the fire time (Unix seconds), expiry (seconds). Returns 1 if
# this caller claimed that fire time, 0 if it (or a later one) was claimed already.
CLAIM = """
local claimed = tonumber(redis.call('GET', KEYS[1]) or '0')
if claimed >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def claim_key(key_prefix: str, schedule_id: int) -> str:
    """The latest fire time claimed of one schedule (Unix seconds)."""
    return f"{key_prefix}schedule:{schedule_id}:claimed"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler(RoundsUntilStopped):
    name = "Scheduler"

    def __init__(
        self, redis_url: str, key_prefix: str = "", now: Callable[[], datetime] = utc_now
    ) -> None:
        self.redis = async_client(redis_url)
        self.claim = self.redis.register_script(CLAIM)
        self.key_prefix, self.now = key_prefix, now
        self.timetable = Timetable()
        self.loaded: tuple[object, ...] | None = None
        self.checked_at: datetime | None = None  # the last tick's now: fired up to there
        super().__init__()

    async def work(self) -> None:
        """A tick every TICK_SECONDS. One that fails is logged and tried again, never raised:
        the scheduler shares the web process, which must go on serving."""
        try:
            await self.tick()
        except Exception:
            logger.exception(
                "the scheduler's tick failed; next try in %g s", FAILED_TICK_PAUSE_SECONDS
            )
            await self.pause(FAILED_TICK_PAUSE_SECONDS)
        else:
            await self.pause(TICK_SECONDS)

    async def close(self) -> None:
        await self.redis.aclose()

    async def tick(self) -> list[tuple[int, datetime]]:
        """Load the timetable again if schedules changed, then claim and launch what is due;
        returns the fire times this scheduler launched."""
        now = self.now()
        owed = await self._reload(since=self.checked_at or now)
        self.checked_at = now
        due = owed + self.timetable.due(now)
        random.shuffle(due)  # schedulers racing through many due at once share the launches
        return [fire for fire in due if await self._fire(*fire)]

    async def _reload(self, since: datetime) -> list[tuple[int, datetime]]:
        fingerprint = await database_sync_to_async(firing.fingerprint)()
        if fingerprint == self.loaded:
            return []
        entries = await database_sync_to_async(firing.active_entries)()
        self.loaded = fingerprint
        return self.timetable.load(entries, since)

    async def _fire(self, schedule_id: int, fire_at: datetime) -> bool:
        key = claim_key(self.key_prefix, schedule_id)
        if not await self.claim(keys=[key], args=[int(fire_at.timestamp()), CLAIM_SECONDS]):
            return False  # another scheduler has it: the normal way to lose
        try:
            run = await database_sync_to_async(firing.launch_fire)(schedule_id, fire_at)
        except LimitReached as refusal:
            logger.warning("schedule %s launched no run for %s: %s", schedule_id, fire_at, refusal)
            return False
        except Exception:
            logger.exception("schedule %s could not launch its run of %s", schedule_id, fire_at)
            return False
        if run is not None:
            logger.info("schedule %s launched %s for %s", schedule_id, run.flow_id, fire_at)
        return run is not None
