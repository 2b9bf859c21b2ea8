"""The live bridge: engine events in, rendered run-page fragments out to Channels groups.

Runs in the web process. It reads the events stream through its own consumer group ("live"),
coalesces each run's events (a quiet run's updates go out at once; a busy run's are paced by
pace.py, and the latest state always goes out), and for the runs
someone watches (watchers.py) reads their state and changed steps from Redis, renders each
distinct fragment once for the Abilities watching and sends the HTML to those groups.

While no run page is open anywhere, it reads no events at all: every IDLE_BLOCK_MS it moves its
group past them in one command (EventReader.skip_unless_watched). A page that opens later misses
nothing, since it joins the watchers before it reads the run's state, and the skip happens
atomically with the check that nobody watches: reading every event of busy runs nobody looked at
slowed the runners measurably (docs/live.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as redis
from channels.layers import BaseChannelLayer, get_channel_layer

from flows.background import RoundsUntilStopped
from flows.engine.executor import FlowExecutor
from flows.live import watchers
from flows.live.pace import Pace
from flows.runs.fragments import render_live_updates
from flows.runs.groups import EVERY_ABILITIES, Abilities, group_name

logger = logging.getLogger(__name__)

GATHER_SECONDS = 0.01
SEND_CONCURRENCY = 16
IDLE_BLOCK_MS = 200
# While run pages are open, how often the bridge checks that some still are.
WATCHED_RECHECK_SECONDS = 1.0


class LiveBridge(RoundsUntilStopped):
    # The consumer group it reads the events stream through. Its events are never
    # acknowledged: a live update lost with this process is repaired by the current state
    # every page's socket gets when it reconnects.
    group = "live"
    # Open pages wait for it after a Redis restart, and starting it again costs one command.
    longest_pause_seconds = 1.0

    def __init__(
        self, redis_url: str, key_prefix: str = "", layer: BaseChannelLayer | None = None
    ) -> None:
        self.engine = FlowExecutor(redis_url, key_prefix=key_prefix)
        self.client = self.engine.redis
        self.events = self.engine.event_reader(self.group)
        self.layer = layer or get_channel_layer()
        # flow_id -> changed step ids since its last update ("" = the run itself), latest "at".
        self.pending: dict[str, tuple[set[str], str]] = {}
        self.pace = Pace()
        self.watched_until = 0.0  # until when run pages are known to be open
        super().__init__()

    async def start(self) -> None:
        try:
            await self.events.ensure_group()
        except BaseException:
            # run() will not be called to close the client, and one left open warns when
            # collected (failing whichever test is running then).
            await self.engine.close()
            raise

    async def finish(self) -> None:
        await self.publish(list(self.pending))  # the final states still go out

    async def close(self) -> None:
        try:
            with contextlib.suppress(redis.RedisError):  # Redis may be what failed
                await self.events.leave()
        finally:
            await self.engine.close()

    async def work(self) -> None:
        """Take the events that came in (waiting until the next update falls due at most), then
        send the updates that are due."""
        if not self.pending and time.monotonic() >= self.watched_until:
            if not await self._run_pages_open():
                await asyncio.sleep(IDLE_BLOCK_MS / 1000)
                return
            self.watched_until = time.monotonic() + WATCHED_RECHECK_SECONDS
        events = await self.events.read(count=500, block_ms=self._block_ms())
        for _event_id, event in events:
            steps, _at = self.pending.setdefault(event["flow_id"], (set(), ""))
            steps.add(event.get("step_id", ""))
            self.pending[event["flow_id"]] = (steps, event["at"])
        now = time.monotonic()
        due = [fid for fid in self.pending if self.pace.ready(fid, now)]
        await self.publish(due)
        if events:
            # Busy: let the next events gather for a moment rather than waking for each one
            # (a busy run's own updates wait for their pace anyway).
            await asyncio.sleep(GATHER_SECONDS)

    async def _run_pages_open(self) -> bool:
        """Whether any run page is open; if none is, the events so far are skipped unread."""
        return await self.events.skip_unless_watched(watchers.since())

    def _block_ms(self) -> int:
        if not self.pending:
            return IDLE_BLOCK_MS
        now = time.monotonic()
        soonest = min(self.pace.wait(fid, now) for fid in self.pending)
        return max(1, round(soonest * 1000))

    async def publish(self, flow_ids: list[str]) -> None:
        if not flow_ids:
            return
        now = time.monotonic()
        changes = {fid: self.pending.pop(fid) for fid in flow_ids}
        self.pace.spend(flow_ids, now)
        audiences = await self._audiences(flow_ids)
        # Only the changed steps: the page shows the others already ("" is the run itself).
        changed = {fid: sorted(changes[fid][0] - {""}) for fid in audiences}
        sends = []
        for run in await self.engine.read_runs(list(changed), steps=changed):
            steps, at = changes[run.state.flow_id]
            audience = audiences[run.state.flow_id]
            for abilities, frames in render_live_updates(run, steps, at, audience).items():
                group = group_name("run", abilities, run.state.flow_id)
                sends.append((group, {"type": "live.html", "frames": frames}))
        await self._send_all(sends)

    async def _audiences(self, flow_ids: list[str]) -> dict[str, list[Abilities]]:
        """The Abilities whose groups watch each run; runs nobody watches are left out."""
        watched = await watchers.watched_by_page(self.client, [("run", fid) for fid in flow_ids])
        audiences = {}
        for fid, groups in zip(flow_ids, watched, strict=True):
            if groups:
                audiences[fid] = [
                    abilities
                    for abilities in EVERY_ABILITIES
                    if group_name("run", abilities, fid) in groups
                ]
        return audiences

    async def _send_all(self, sends: list[tuple[str, dict]]) -> None:
        """Send concurrently, but boundedly: each group_send in flight holds a Redis connection
        of its own, and a burst of hundreds made the pool open (slowly) hundreds of them."""
        limit = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(group: str, message: dict) -> None:
            async with limit:
                await self.layer.group_send(group, message)

        await asyncio.gather(*(send(group, message) for group, message in sends))
