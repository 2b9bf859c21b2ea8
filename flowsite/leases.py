"""Background services that run once across web workers, under a lease in Redis.

With several web workers (`serve --workers N`, `uvicorn --workers N`, any server that runs the
lifespan in each worker) every worker runs the ASGI lifespan, and so would start every
background service N times. None of them may: N live bridges would split the "live" group's
events between them, and two bridges' updates of one run could reach a page out of order,
leaving it on the older state; N archivers would take the same changed runs, and a slow one
could write a run's listing over the record a faster one had just saved for its end; N
embedded runners are safe but spend N times the sandboxes on the machine the web workers need.

So each such service runs in whichever worker holds its lease: a key set only if absent, with
a random token and an expiry, renewed by its holder every third of LEASE_SECONDS while it still
holds the token, deleted by its holder when it stops. The other workers try again whenever the
lease would lapse: a holder that stops hands over within LEASE_SECONDS, one that dies (no
renewal) is replaced when its lease expires. A holder that finds its lease taken (it stalled
past the expiry, or Redis lost the key) stops its service and waits like the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

import redis.asyncio as redis

from flows.engine.connections import async_client
from flowsite.lifespan import MAX_BACKOFF_SECONDS, Service

logger = logging.getLogger(__name__)

# A web worker's lease on a background service. Not a runner's lease on its tasks
# (RunnerSettings.lease_seconds): that one says when a dead runner's steps are taken over.
LEASE_SECONDS = 5.0

# KEYS: the lease; ARGV: token, milliseconds. Returns 0 if the lease is now the token's (taken,
# or already held), else the milliseconds until it lapses.
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
"""
# KEYS: the lease; ARGV: token, milliseconds. Returns 1 if still the token's (and extended).
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: the lease; ARGV: token. Deletes the lease only if it is still the token's.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


def lease_key(key_prefix: str, name: str) -> str:
    """The one place lease keys are built: `{FLOWS_KEY_PREFIX}lease:{name}`."""
    return f"{key_prefix}lease:{name}"


class Lease:
    """One holder at a time, across processes, of a named lease."""

    def __init__(self, client: redis.Redis, key: str, seconds: float = LEASE_SECONDS) -> None:
        self.key = key
        self.seconds = seconds
        self.token = uuid.uuid4().hex
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)

    @property
    def _milliseconds(self) -> int:
        return round(self.seconds * 1000)

    async def acquire(self) -> float:
        """Take the lease if it is free (or ours): 0.0; else the seconds until it lapses."""
        wait_ms = await self._acquire(keys=[self.key], args=[self.token, self._milliseconds])
        return wait_ms / 1000

    async def renew(self) -> bool:
        """Extend the lease; False if it is no longer ours."""
        return bool(await self._renew(keys=[self.key], args=[self.token, self._milliseconds]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])


class OnceAcrossWorkers:
    """A lifespan Service that runs the service `make()` builds only while this worker holds
    the lease `name`: waits for it, runs a fresh service under it, renews it, and releases it
    when the service stops. A fresh service each time: a stopped one does not start again."""

    def __init__(
        self,
        name: str,
        make: Callable[[], Service],
        redis_url: str,
        key_prefix: str = "",
        seconds: float = LEASE_SECONDS,
        longest_pause_seconds: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        """`longest_pause_seconds`: the lifespan's longest pause before starting it again
        (the wrapped service's own, which the lifespan cannot see through this wrapper)."""
        self.name = name
        self.longest_pause_seconds = longest_pause_seconds
        self.make = make
        self.client = async_client(redis_url, decode_responses=True)
        self.lease = Lease(self.client, lease_key(key_prefix, name), seconds)
        self.service: Service | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Nothing to do yet: the service starts once the lease is held, in run()."""

    def stop(self) -> None:
        self._stopping.set()
        if self.service is not None:
            self.service.stop()

    async def run(self) -> None:
        """Until stop(): wait for the lease, run the service while holding it; again if lost.
        A failure of the service, or of Redis, releases the lease (if it can) and is raised,
        for the lifespan to start this again after a pause."""
        try:
            while await self._lease_taken():
                await self._run_holding()
        finally:
            with contextlib.suppress(redis.RedisError):
                await self.lease.release()
            await self.client.aclose()

    async def _lease_taken(self) -> bool:
        """Wait until this worker holds the lease (True) or stop() is called (False)."""
        waiting_logged = False
        while not self._stopping.is_set():
            wait = await self.lease.acquire()
            if not wait:
                logger.info("%s: this worker holds the lease and runs it", self.name)
                return True
            if not waiting_logged:
                logger.info("%s: another worker runs it; waiting to take over", self.name)
                waiting_logged = True
            # Not a poll for a change: the lease can only become free by its holder releasing
            # it or by lapsing, and trying again when it would lapse catches both in time.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
        return False

    async def _run_holding(self) -> None:
        """Run a fresh service until it returns or fails, or the lease is lost (then stop it
        and wait for it to finish)."""
        self.service = service = self.make()
        if self._stopping.is_set():  # stop() came while the lease was being taken
            return
        await service.start()
        ended = asyncio.Event()
        running = asyncio.create_task(service.run(), name=f"{self.name}-service")
        running.add_done_callback(lambda _task: ended.set())
        renewing = asyncio.create_task(self._renew_until(ended), name=f"{self.name}-lease")
        try:
            await asyncio.wait({running, renewing}, return_when=asyncio.FIRST_COMPLETED)
            if renewing.done() and not running.done():
                service.stop()  # the lease was lost: stop gracefully
            try:
                await running  # raises the service's failure
            finally:
                # Renewal ends by `ended`, promptly, not by cancellation, which could leave a
                # Redis connection mid-command.
                await renewing
        finally:
            # Only if this task is cancelled itself.
            running.cancel()
            renewing.cancel()
            self.service = None

    async def _renew_until(self, ended: asyncio.Event) -> None:
        """Renew every third of the lease's time until `ended`; return early if the lease is
        no longer ours."""
        while not ended.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), self.lease.seconds / 3)
            if ended.is_set():
                return
            try:
                held = await self.lease.renew()
            except redis.RedisError as error:
                # Redis unreachable: no other worker can take the lease meanwhile either. The
                # service goes on (one that needs Redis fails by itself and is started again);
                # the first renewal that reaches Redis tells whether the lease is still ours.
                logger.warning("%s: could not renew the lease (%s)", self.name, error)
                continue
            if not held:
                logger.warning("%s: this worker lost the lease; stopping it here", self.name)
                return
