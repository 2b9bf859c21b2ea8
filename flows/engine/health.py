"""Is the Redis the engine runs on fit to keep runs, and is anyone running them? Read in one
round trip (on a cluster, one per master), for the web app's banners and readiness probe.

Runs live in Redis until they end, so a server that keeps nothing on disk loses them on a
restart, one whose `maxmemory-policy` evicts may drop their keys under memory pressure, and
one at its `maxmemory` refuses the writes every transition makes. A cluster is as fit as its
least fit master: each holds some of the runs. And tasks in the queue with
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
from redis.cluster import RedisCluster

from flows.engine.connections import blocking_client, partitions_of
from flows.engine.heartbeats import (
    RunnerHeartbeat,
    parse_heartbeats,
    read_beats,
    read_heartbeats,
)
from flows.engine.keys import Keys
from flows.engine.server_version import ServerVersion, least_fit, require_supported

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


# One server's INFO (memory, persistence) and its CONFIG GET save (or the error refusing it).
_ServerFacts = tuple[dict, "dict | Exception"]


def _ask_server_facts(pipe: redis.client.Pipeline) -> None:
    pipe.execute_command("INFO", "memory", "persistence")
    pipe.config_get("save")


# Where _ask_server_facts' CONFIG GET answers: some hosted servers refuse it, which is no error
# (`_persistent` then says unknown).
CONFIG_ANSWER = 1


def _answers(answers: list, tolerated: int | None = None) -> list:
    """The pipeline's answers; raises the first error, but the answer at `tolerated`'s."""
    for index, answer in enumerate(answers):
        if isinstance(answer, Exception) and index != tolerated:
            raise answer
    return answers


def _memory_share(info: dict) -> float:
    max_memory = int(info.get("maxmemory", 0))
    return int(info.get("used_memory", 0)) / max_memory if max_memory else 0.0


def _all_persistent(each: list[bool | None]) -> bool | None:
    """A cluster keeps its runs only if every master does."""
    if False in each:
        return False
    return None if None in each else True


def _riskiest_policy(infos: list[dict]) -> str:
    """The first master's policy that may evict, if any does."""
    policies = [info.get("maxmemory_policy", SAFE_EVICTION_POLICY) for info in infos]
    return next((p for p in policies if p != SAFE_EVICTION_POLICY), SAFE_EVICTION_POLICY)


class HealthReader:
    """The engine's Redis, checked on a blocking client of its own (short timeouts)."""

    def __init__(self, redis_url: str, key_prefix: str = "") -> None:
        self.redis_url = redis_url
        self.keys = Keys(key_prefix, partitions_of(redis_url))
        self._lock = threading.Lock()
        self._kept: tuple[float, ServerHealth] | None = None
        self._client: redis.Redis | None = None
        self._connecting = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        """Made on first use: a cluster's client connects as it is made, and a cluster that
        does not answer must make a banner, not an error."""
        with self._connecting:
            if self._client is None:
                self._client = blocking_client(
                    self.redis_url,
                    decode_responses=True,
                    socket_timeout=TIMEOUT_SECONDS,
                    socket_connect_timeout=TIMEOUT_SECONDS,
                )
            return self._client

    def check(self) -> ServerHealth:
        """The server's health, read at most every KEEP_ANSWER_SECONDS (an unreachable
        server's too: while it is away, pages should not each wait for it)."""
        with self._lock:
            if self._kept is None or time.monotonic() - self._kept[0] > KEEP_ANSWER_SECONDS:
                self._kept = (time.monotonic(), self.check_now())
            return self._kept[1]

    def check_now(self) -> ServerHealth:
        try:
            servers, lengths, beats, server_time = (
                self._read_cluster() if isinstance(self.client, RedisCluster) else self._read()
            )
        except redis.RedisError as error:
            return ServerHealth(reachable=False, error=str(error) or type(error).__name__)
        fullest = max(servers, key=lambda server: _memory_share(server[0]))
        return ServerHealth(
            reachable=True,
            persistent=_all_persistent([_persistent(info, save) for info, save in servers]),
            eviction_policy=_riskiest_policy([info for info, _save in servers]),
            used_memory=int(fullest[0].get("used_memory", 0)),
            max_memory=int(fullest[0].get("maxmemory", 0)),
            queued_tasks=sum(lengths),
            runners=parse_heartbeats(beats, server_time),
        )

    def _read(self) -> tuple[list[_ServerFacts], list[int], dict, list]:
        """Everything in one round trip, on one server."""
        with self.client.pipeline(transaction=False) as pipe:
            _ask_server_facts(pipe)
            self._ask_keys(pipe)
            answers = _answers(pipe.execute(raise_on_error=False), tolerated=CONFIG_ANSWER)
        info, save, *lengths, beats, server_time = answers
        return [(info, save)], lengths, beats, server_time

    def _read_cluster(self) -> tuple[list[_ServerFacts], list[int], dict, list]:
        """A cluster's pipelines take no INFO, CONFIG GET or TIME (they go to no key's node): a
        round trip to each master for its own, the queues' lengths in one pipeline sent to
        their nodes, the heartbeats with the time of theirs."""
        servers = []
        for master in self._masters():
            with master.pipeline(transaction=False) as pipe:
                _ask_server_facts(pipe)
                info, save = _answers(pipe.execute(raise_on_error=False), CONFIG_ANSWER)
            servers.append((info, save))
        with self.client.pipeline(transaction=False) as pipe:
            self._ask_lengths(pipe)
            lengths = _answers(pipe.execute(raise_on_error=False))
        return servers, lengths, *read_beats(self.client, self.keys)

    def _ask_keys(self, pipe: redis.client.Pipeline) -> None:
        self._ask_lengths(pipe)
        pipe.hgetall(self.keys.runners)
        pipe.time()

    def _ask_lengths(self, pipe: redis.client.Pipeline) -> None:
        for part in self.keys.partitions:
            pipe.xlen(part.queue)

    def runners(self) -> list[RunnerHeartbeat]:
        """Every runner's heartbeat, alive or gone, read now; raises redis errors."""
        return read_heartbeats(self.client, self.keys)

    def server(self) -> ServerVersion:
        """The server's name and version (a cluster's least fit master's), read now;
        UnsupportedServer if it is too old, redis errors if it is unreachable."""
        infos = [master.info("server") for master in self._masters()]
        return require_supported(least_fit(ServerVersion.from_info(info) for info in infos))

    def _masters(self) -> list[redis.Redis]:
        """A client of each server holding runs: the one server, or each master of a cluster."""
        if isinstance(self.client, RedisCluster):
            return [self.client.get_redis_connection(node) for node in self.client.get_primaries()]
        return [self.client]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
