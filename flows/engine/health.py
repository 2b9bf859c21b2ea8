"""Is the Redis the engine runs on fit to keep runs, and is anyone running them? Read in one
round trip, for the web app's banners and readiness probe.

Runs live in Redis until they end, so a server that keeps nothing on disk loses them on a
restart, one whose `maxmemory-policy` evicts may drop their keys under memory pressure, and
one at its `maxmemory` refuses the writes every transition makes. And tasks in the queue with
no runner alive wait for ever. Each of these is silent until it bites; this module says so
while there is still time to act.

The client is blocking, with short timeouts: a page asks, and a Redis that does not answer
must cost the page a moment, not hang it. The answer is kept for a few seconds, so that every
page does not pay the round trip.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis

from flows.engine.connections import blocking_client, partitions_of
from flows.engine.heartbeats import RunnerHeartbeat, parse_heartbeats, read_heartbeats
from flows.engine.keys import Keys
from flows.engine.server_version import ServerVersion, require_supported

# Memory used past this share of `maxmemory` is worth a warning before writes are refused.
MEMORY_WARNING_SHARE = 0.8
SAFE_EVICTION_POLICY = "noeviction"
TIMEOUT_SECONDS = 2.0
KEEP_ANSWER_SECONDS = 5.0


@dataclass(frozen=True)
class ServerHealth:
    """What the engine needs of its Redis, as read at one moment. `reachable` False: nothing
    else could be read (`error` says why)."""

    reachable: bool
    error: str = ""
    # None: unknown (the server refuses CONFIG GET, as some hosted ones do, and AOF is off).
    persistent: bool | None = True
    eviction_policy: str = SAFE_EVICTION_POLICY
    used_memory: int = 0
    max_memory: int = 0  # 0: no limit
    queued_tasks: int = 0
    runners: list[RunnerHeartbeat] = field(default_factory=list)

    @property
    def live_runners(self) -> list[RunnerHeartbeat]:
        return [runner for runner in self.runners if not runner.gone]

    @property
    def waiting_without_runner(self) -> bool:
        """Tasks are queued (or held by runners that died) and no runner is alive to run them."""
        return self.queued_tasks > 0 and not self.live_runners

    @property
    def may_evict(self) -> bool:
        return self.reachable and self.eviction_policy != SAFE_EVICTION_POLICY

    @property
    def memory_share(self) -> float:
        return self.used_memory / self.max_memory if self.max_memory else 0.0

    @property
    def memory_high(self) -> bool:
        return self.memory_share > MEMORY_WARNING_SHARE

    @property
    def keeps_nothing_on_disk(self) -> bool:
        return self.reachable and self.persistent is False


def _persistent(info: dict, save: dict | Exception) -> bool | None:
    """AOF on, or any RDB save point; None when AOF is off and the save points are unknown."""
    if info.get("aof_enabled"):
        return True
    if isinstance(save, Exception):
        return None
    return bool(str(save.get("save", "")).strip())


class HealthReader:
    """The engine's Redis, checked on a blocking client of its own (short timeouts)."""

    def __init__(self, redis_url: str, key_prefix: str = "") -> None:
        self.client = blocking_client(
            redis_url,
            decode_responses=True,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
        self.keys = Keys(key_prefix, partitions_of(redis_url))
        self._lock = threading.Lock()
        self._kept: tuple[float, ServerHealth] | None = None

    def check(self) -> ServerHealth:
        """The server's health, read at most every KEEP_ANSWER_SECONDS (an unreachable
        server's too: while it is away, pages should not each wait for it)."""
        with self._lock:
            if self._kept is None or time.monotonic() - self._kept[0] > KEEP_ANSWER_SECONDS:
                self._kept = (time.monotonic(), self.check_now())
            return self._kept[1]

    def check_now(self) -> ServerHealth:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.execute_command("INFO", "memory", "persistence")
                pipe.config_get("save")
                for part in self.keys.partitions:
                    pipe.xlen(part.queue)
                pipe.hgetall(self.keys.runners)
                pipe.time()
                info, save, *lengths, beats, server_time = pipe.execute(raise_on_error=False)
            for answer in (info, *lengths, beats, server_time):
                if isinstance(answer, Exception):
                    raise answer
        except redis.RedisError as error:
            return ServerHealth(reachable=False, error=str(error) or type(error).__name__)
        return ServerHealth(
            reachable=True,
            persistent=_persistent(info, save),
            eviction_policy=info.get("maxmemory_policy", SAFE_EVICTION_POLICY),
            used_memory=int(info.get("used_memory", 0)),
            max_memory=int(info.get("maxmemory", 0)),
            queued_tasks=sum(lengths),
            runners=parse_heartbeats(beats, server_time),
        )

    def runners(self) -> list[RunnerHeartbeat]:
        """Every runner's heartbeat, alive or gone, read now; raises redis errors."""
        return read_heartbeats(self.client, self.keys)

    def server(self) -> ServerVersion:
        """The server's name and version, read now; UnsupportedServer if it is too old, redis
        errors if it is unreachable."""
        return require_supported(ServerVersion.from_info(self.client.info("server")))

    def close(self) -> None:
        self.client.close()
