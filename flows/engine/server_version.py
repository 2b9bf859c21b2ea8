"""Which servers the engine runs on, checked once when a process starts.

The engine needs Redis 7.0 or later: the live bridge reads a consumer group's `entries-read`
(XINFO GROUPS, new in 7.0), and the runners read XAUTOCLAIM's 7.0 answer. Valkey, forked from
Redis 7.2, has both in every release. An older server would fail later, on a missing command
or field, far from the cause: refuse it at start-up in one line instead. On a cluster every
master is asked: the least fit decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis

from flows.engine.connections import async_client

MINIMUM_VERSIONS: dict[str, tuple[int, ...]] = {"Redis": (7, 0), "Valkey": (7, 2)}


class UnsupportedServer(RuntimeError):
    pass


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _parsed(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


@dataclass(frozen=True)
class ServerVersion:
    name: str  # "Redis" or "Valkey"
    version: tuple[int, ...]

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServerVersion:
        """From the fields of `INFO server`. Valkey also reports redis_version (7.2.4, the
        Redis it forked from): its own version is valkey_version."""
        if "valkey_version" in info:
            return cls("Valkey", _parsed(str(info["valkey_version"])))
        return cls("Redis", _parsed(str(info["redis_version"])))

    @classmethod
    def from_info_text(cls, text: str) -> ServerVersion:
        """From the raw text of `INFO server` (`field:value` lines, `#` section headers)."""
        fields = dict(
            line.split(":", 1) for line in text.splitlines() if ":" in line and line[0] != "#"
        )
        return cls.from_info({name: value.strip() for name, value in fields.items()})

    @property
    def supported(self) -> bool:
        return self.version >= MINIMUM_VERSIONS[self.name]

    def __str__(self) -> str:
        return f"{self.name} {_dotted(self.version)}"


def require_supported(server: ServerVersion) -> ServerVersion:
    if not server.supported:
        minimums = " or ".join(f"{name} >= {_dotted(v)}" for name, v in MINIMUM_VERSIONS.items())
        raise UnsupportedServer(f"{server} is too old: Flowsite needs {minimums}")
    return server


def least_fit(servers: Iterable[ServerVersion]) -> ServerVersion:
    """The server that speaks for a cluster's masters: one too old if any is, else the oldest."""
    return min(servers, key=lambda server: (server.supported, server.version))


async def check_server(client: redis.Redis) -> ServerVersion:
    """The server's name and version (a cluster's least fit master's); UnsupportedServer if it
    is too old for the engine."""
    if isinstance(client, redis.RedisCluster):
        await client.initialize()
        infos = [await client.info("server", target_nodes=node) for node in client.get_primaries()]
    else:
        infos = [await client.info("server")]
    return require_supported(least_fit(ServerVersion.from_info(info) for info in infos))


async def check_server_at(redis_url: str) -> ServerVersion:
    """check_server on a connection of its own, closed after."""
    async with async_client(redis_url) as client:
        return await check_server(client)
