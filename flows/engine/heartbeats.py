"""Runners' heartbeats: each runner says every third of its lease that it is alive, what it
is, and which steps it runs; the web app's Runners page and its banners read them.

A beat is one small write (heartbeat.lua: the runner's hash field, stamped with Redis' clock).
A runner that stops gracefully removes its heartbeat; one that dies stops beating, and once it
has been silent for GONE_AFTER_LEASES of its lease periods it is *gone*: by then the runners
left have taken its steps over (a lease lapses after one period), so it is gone for good, not
slow. Its entry stays, shown as gone, until a runner starting a day later forgets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

import redis
import redis.asyncio

from flows.engine.keys import Keys
from flows.engine.lua_scripts import load_script

logger = logging.getLogger(__name__)

GONE_AFTER_LEASES = 3
# A runner's first beat forgets the runners silent for longer than this.
FORGET_GONE_AFTER_SECONDS = 24 * 3600

# (flow id, step id) of each step a runner runs.
RunningSteps = Callable[[], list[tuple[str, str]]]


def _version() -> str:
    try:
        return metadata.version("flowsite")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class Heartbeat:
    """One runner's heartbeat: run() beats until the runner has released its work, then
    removes it."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        keys: Keys,
        runner_name: str,
        *,
        concurrency: int,
        lease_seconds: float,
    ) -> None:
        self.client = client
        self.keys = keys
        self.runner_name = runner_name
        self.interval = lease_seconds / 3
        self._script = load_script(client, "heartbeat")
        self._details = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "concurrency": concurrency,
            "lease_seconds": lease_seconds,
            "version": _version(),
        }

    async def run(self, running: RunningSteps, until: asyncio.Event) -> None:
        """Beat now and every third of a lease until `until` is set, then remove the heartbeat.
        Redis being away costs beats, not the runner: it tries again at the next one."""
        first = True
        while not until.is_set():
            try:
                await self.beat(running(), forget_gone=first)
                first = False
            except redis.RedisError as error:
                logger.warning("runner %s missed a heartbeat (%s)", self.runner_name, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), self.interval)
        await self._remove()

    async def beat(self, running: list[tuple[str, str]], *, forget_gone: bool = False) -> None:
        """Write this runner's heartbeat; with `forget_gone`, also forget the runners silent for
        longer than FORGET_GONE_AFTER_SECONDS (a runner's first beat: it reads every one)."""
        details = {**self._details, "running": [list(step) for step in running]}
        forget_after = FORGET_GONE_AFTER_SECONDS if forget_gone else ""
        await self._script(
            keys=[self.keys.runners], args=[self.runner_name, json.dumps(details), forget_after]
        )

    async def _remove(self) -> None:
        try:
            await self.client.hdel(self.keys.runners, self.runner_name)
        except redis.RedisError as error:
            # Redis is away: the heartbeat stays, and is shown as gone once it is old enough.
            logger.warning("runner %s could not remove its heartbeat (%s)", self.runner_name, error)


@dataclass(frozen=True)
class RunnerHeartbeat:
    """A runner as its last heartbeat described it, and how long ago that was."""

    name: str
    host: str
    pid: int
    concurrency: int
    lease_seconds: float
    version: str
    running: list[tuple[str, str]]  # (flow id, step id)
    started_at: datetime
    beat_at: datetime
    seconds_silent: float  # since its last beat, by Redis' clock

    @property
    def gone(self) -> bool:
        return self.seconds_silent > GONE_AFTER_LEASES * self.lease_seconds

    @property
    def free_slots(self) -> int:
        return max(self.concurrency - len(self.running), 0)


def _time(raw: str) -> datetime:
    return datetime.fromtimestamp(float(raw), tz=UTC)


def parse_heartbeats(beats: dict[str, str], server_time: tuple[int, int]) -> list[RunnerHeartbeat]:
    """The runners' heartbeats (the runners hash read whole, and Redis' TIME read with it),
    the longest-running first."""
    now = server_time[0] + server_time[1] / 1_000_000
    runners = []
    for name, raw in beats.items():
        beat = json.loads(raw)
        runners.append(
            RunnerHeartbeat(
                name=name,
                host=beat["host"],
                pid=beat["pid"],
                concurrency=beat["concurrency"],
                lease_seconds=beat["lease_seconds"],
                version=beat["version"],
                # Lua's cjson writes an empty list as {}: `or []` reads it back as one.
                running=[(flow_id, step_id) for flow_id, step_id in beat["running"] or []],
                started_at=_time(beat["started_at"]),
                beat_at=_time(beat["beat_at"]),
                seconds_silent=max(now - float(beat["beat_at"]), 0.0),
            )
        )
    return sorted(runners, key=lambda runner: (runner.started_at, runner.name))


# The runners hash and the clock of the server holding it (which stamped the beats: on a
# cluster, the other nodes' clocks may differ), read together.
READ_BEATS = """#!lua flags=no-writes
return {redis.call('TIME'), redis.call('HGETALL', KEYS[1])}
"""


def read_beats(client: redis.Redis, keys: Keys) -> tuple[dict[str, str], tuple[int, int]]:
    """The runners hash and Redis' TIME, in one round trip (blocking client)."""
    server_time, flat = client.register_script(READ_BEATS)(keys=[keys.runners])
    beats = dict(zip(flat[::2], flat[1::2], strict=True))
    return beats, (int(server_time[0]), int(server_time[1]))


def read_heartbeats(client: redis.Redis, keys: Keys) -> list[RunnerHeartbeat]:
    """Every runner's heartbeat, alive or gone, in one round trip (blocking client)."""
    return parse_heartbeats(*read_beats(client, keys))
