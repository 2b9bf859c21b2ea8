"""Where the tests keep their runs (FLOWS_TEST_LAYOUTS: "server", "cluster" or both), and what
every layout needs of a test: a flush between tests."""

from __future__ import annotations

import os

import redis

from flows.engine.connections import client_url, is_cluster_url

LAYOUTS = os.environ.get("FLOWS_TEST_LAYOUTS", "server").split(",")


def flush(redis_url: str) -> None:
    """FLUSHDB on the server, or on every master of the cluster (plain clients: a sync
    RedisCluster here left a socket to be closed by the garbage collector)."""
    with redis.Redis.from_url(client_url(redis_url)) as seed:
        if not is_cluster_url(redis_url):
            seed.flushdb()
            return
        slots = seed.execute_command("CLUSTER", "SLOTS")
    for host, port in {(owner[0].decode(), owner[1]) for _first, _last, owner, *_ in slots}:
        with redis.Redis(host=host, port=port) as master:
            master.flushdb()
