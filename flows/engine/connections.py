"""The engine's Redis URL, and options for every asyncio Redis connection pool: survive a Redis
restart, and wait for replies as long as the command takes.

The URL may name the key layout as well as the server: `?partitions=N` spreads runs over N
partitions (keys.py; docs/scaling.md), and a `redis+cluster://` (or `rediss+cluster://`) URL
names a Redis or Valkey Cluster, whose runs are spread over 16 partitions unless it says. Every
process of an installation reads the one URL, so they cannot disagree on where runs are. Both
are Flowsite's spellings: client_url gives redis-py the URL it knows.

redis-py 8.1 (RESP3 by default) turns on its maintenance notifications (a Redis Enterprise
feature) for TCP connections, and with them on, its pool stops checking a pooled connection
before handing it out: after a restart every idle connection fails its next command with
ConnectionError, once each (a live page's socket, a launch, the bridge's next read). Off, a
connection the server closed is replaced at checkout, as with RESP2 or unix sockets. Upstream
fixed it in redis-py's pull request 4260 (after 8.1.0); drop this once a release has it.

redis-py 8.1 also gives every connection 5-second timeouts by default (earlier releases had
none). A reply may rightly take longer: a blocking read, a wait on pub/sub, a busy server; and
a connection made while its event loop serves thousands of calls (a gather of 5,000 waits) can
take over 5 s to finish its handshake, through no fault of the server. So replies are waited
for as long as they take (what every caller here was written for), and connecting is bounded
at CONNECT_TIMEOUT_SECONDS: an unreachable server is still an error, not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.maint_notifications import MaintNotificationsConfig

CONNECT_TIMEOUT_SECONDS = 30.0


def pool_options() -> dict[str, Any]:
    """Keyword arguments for `redis.asyncio` pools and `Redis.from_url`."""
    return {
        "maint_notifications_config": MaintNotificationsConfig(enabled=False),
        "socket_timeout": None,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
    }


PARTITIONS_PARAMETER = "partitions"
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
DEFAULT_CLUSTER_PARTITIONS = 16


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0] in CLUSTER_SCHEMES


def client_url(url: str) -> str:
    """The URL as redis-py takes it: without Flowsite's layout parameter, a cluster's with the
    plain scheme (redis-py's RedisCluster takes the URL of any one of its nodes)."""
    scheme, separator, rest = _split(url)[0].partition("://")
    return f"{CLUSTER_SCHEMES.get(scheme, scheme)}{separator}{rest}"


def partitions_of(url: str) -> int:
    """The partition count the URL names: by default 0 on one server (the original names),
    DEFAULT_CLUSTER_PARTITIONS on a cluster. ValueError for a cluster without partitions (its
    transitions would touch keys of many slots)."""
    named = _split(url)[1]
    if not is_cluster_url(url):
        return named or 0
    if named == 0:
        raise ValueError("a cluster's runs must be spread over partitions: partitions=0 cannot be")
    return DEFAULT_CLUSTER_PARTITIONS if named is None else named


# How long a command is sent again while its slot moves (see _Cluster), and the pauses between.
SLOT_MOVE_SECONDS = 30.0
FIRST_PAUSE_SECONDS = 0.01
LONGEST_PAUSE_SECONDS = 0.2


class _Cluster(redis.asyncio.RedisCluster):
    """redis-py 8.1's asyncio cluster client, made to behave as the engine's callers expect of
    a client:
    - Its pools raise MaxConnectionsError when all their connections are busy, where a
      BlockingConnectionPool waits: thousands of concurrent launches failed. So a command waits
      for one of `max_connections` places (never more commands in flight than connections in a
      node's pool).
    - It picks a command's node before it has read the slot map, on its first commands: sent
      at once, they all go to one node, whose MOVED answers make it read the map anew. So the
      map is read first (initialize() is a flag check once it has been).
    - It starts over every `reinitialize_steps` MOVED answers (its default, 5): starting over
      closes every connection of every node, those with replies in flight too, and it sends
      their commands again. A script whose reply was lost ran once already: a transition
      applied twice (a launch stored twice; a finish replayed after the run moved on drops the
      next step's task, and the run stops for good). A slot move makes MOVED answers common:
      with 0, each one updates that slot alone.
    - While a slot moves, a command on keys split between the two nodes gets TRYAGAIN, and it
      gives up after some tenths of a second ("TTL exhausted"): the runner's transitions
      failed for the length of a move. Both come before a command runs, so it is sent again,
      for up to SLOT_MOVE_SECONDS.
    - With no node answering it raises ConnectionError, as a client of one server does
      (_AsyncNodes)."""

    def __init__(self, *args: Any, max_connections: int = 100, **kwargs: Any) -> None:
        kwargs = {"reinitialize_steps": 0, **kwargs}
        super().__init__(*args, max_connections=max_connections, **kwargs)
        self.nodes_manager.__class__ = _AsyncNodes
        self._places = asyncio.Semaphore(max_connections)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        await self.initialize()
        deadline = asyncio.get_running_loop().time() + SLOT_MOVE_SECONDS
        pause = FIRST_PAUSE_SECONDS
        while True:
            try:
                async with self._places:
                    return await super().execute_command(*args, **kwargs)
            except (redis.exceptions.TryAgainError, redis.exceptions.ClusterError) as error:
                moving = not isinstance(error, redis.exceptions.ClusterError) or (
                    "TTL exhausted" in str(error)
                )
                if not moving or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)


# How redis-py says that no node of a cluster answers (a RedisClusterException).
UNREACHABLE_CLUSTER = "Redis Cluster cannot be connected"


@contextlib.contextmanager
def _unreachable_as_connection_error() -> Iterator[None]:
    """redis-py raises RedisClusterException, which is no RedisError, when no node of a
    cluster answers; callers written for one server catch RedisError (a banner, a 503, a pause
    before trying again) and would fail instead. Here it is a ConnectionError, as on one
    server."""
    try:
        yield
    except redis.exceptions.RedisClusterException as error:
        if UNREACHABLE_CLUSTER not in str(error):
            raise
        raise redis.ConnectionError(str(error)) from error


class _AsyncNodes(redis.asyncio.cluster.NodesManager):
    """Where the clients read the slot map, and find that no node answers."""

    __slots__ = ()

    async def initialize(self, *args: Any, **kwargs: Any) -> None:
        with _unreachable_as_connection_error():
            await super().initialize(*args, **kwargs)


class _BlockingNodes(redis.cluster.NodesManager):
    def initialize(self, *args: Any, **kwargs: Any) -> None:
        with _unreachable_as_connection_error():
            super().initialize(*args, **kwargs)


class _BlockingCluster(redis.cluster.RedisCluster):
    """redis-py 8.1's blocking cluster client, raising ConnectionError when no node answers
    (it connects as it is made, and again when a command meets a node gone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _unreachable_as_connection_error():
            super().__init__(*args, **kwargs)
        self.nodes_manager.__class__ = _BlockingNodes


def async_client(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client of the URL's server, or of its cluster (a RedisCluster, with the same
    commands), with pool_options() and `options`."""
    kind = _Cluster if is_cluster_url(url) else redis.asyncio.Redis
    return kind.from_url(client_url(url), **{**pool_options(), **options})


def blocking_client(url: str, **options: Any) -> redis.Redis:
    """A blocking client of the URL's server, or of its cluster, with `options`."""
    kind = _BlockingCluster if is_cluster_url(url) else redis.Redis
    return kind.from_url(client_url(url), **options)


def with_partitions(url: str, partitions: int) -> str:
    """The URL naming `partitions` (FLOWS_PARTITIONS folded into REDIS_URL, so that every
    process built from the settings reads the one URL). ValueError if it names another count."""
    base, named = _split(url)
    if named is not None and named != partitions:
        raise ValueError(f"the URL says {PARTITIONS_PARAMETER}={named}, not {partitions}")
    return f"{base}{'&' if '?' in base else '?'}{PARTITIONS_PARAMETER}={partitions}"


def _split(url: str) -> tuple[str, int | None]:
    """The URL without our parameter, and the count it named (None if it named none)."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    ours = [value for name, value in pairs if name == PARTITIONS_PARAMETER]
    if not ours:
        return url, None
    try:
        partitions = int(ours[-1])
    except ValueError:
        raise ValueError(
            f"{PARTITIONS_PARAMETER} must be a whole number, got {ours[-1]!r}"
        ) from None
    rest = urlencode([(name, value) for name, value in pairs if name != PARTITIONS_PARAMETER])
    return f"{base}?{rest}" if rest else base, partitions
