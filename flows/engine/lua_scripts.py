"""Loads the scripts in flows/engine/lua/, each after the shared prelude.lua.

Only the engine loads them (a test proves it): they are the engine's transitions, and they
know its key layout.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis.asyncio as redis
from redis.crc import key_slot

# Declares the script's flags: none, so that a cluster refuses a key of another slot than its
# declared keys' (allow-cross-slot-keys not given) rather than let it work until a reshard.
SHEBANG = "#!lua\n"


def load_script(client: redis.Redis, name: str) -> Any:
    """lua/{name}.lua registered on the client (no I/O until its first call)."""
    lua = resources.files("flows.engine") / "lua"
    prelude = (lua / "prelude.lua").read_text()
    return client.register_script(SHEBANG + prelude + "\n" + (lua / f"{name}.lua").read_text())


# Slots whose script calls a cluster client sends at once in call_each (its pools do not wait
# for a free connection, so a batch must not need more than they hold).
CLUSTER_SLOTS_AT_ONCE = 50


async def call_each(client: redis.Redis, calls: Sequence[tuple[Any, dict[str, Any]]]) -> list:
    """Each (script, its keys and args) call's answer, in order: in one pipeline on one server;
    on a cluster, whose pipelines take no scripts (redis-py), the calls of each slot one after
    another, in their order (a batch of a limited flow's runs is admitted in launch order), and
    CLUSTER_SLOTS_AT_ONCE slots at a time."""
    if not isinstance(client, redis.RedisCluster):
        async with client.pipeline(transaction=False) as pipe:
            for script, arguments in calls:
                await script(**arguments, client=pipe)
            return await pipe.execute()
    by_slot: dict[int, list[int]] = defaultdict(list)
    for index, (_script, arguments) in enumerate(calls):
        by_slot[key_slot(arguments["keys"][0].encode())].append(index)
    answers: list[Any] = [None] * len(calls)
    limit = asyncio.Semaphore(CLUSTER_SLOTS_AT_ONCE)

    async def call_in_order(indexes: list[int]) -> None:
        async with limit:
            for index in indexes:
                script, arguments = calls[index]
                answers[index] = await script(**arguments)

    await asyncio.gather(*(call_in_order(indexes) for indexes in by_slot.values()))
    return answers
