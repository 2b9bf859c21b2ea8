"""Which live groups someone watches, kept in Redis so every web process sees every socket.

The bridge and the feeds render and send only for watched groups: most runs are never opened,
and rendering their fragments anyway cost the web process a third of its time. A socket joins
(after joining the Channels group, before reading the page's state, so a skipped update is
always covered by that state) and leaves on disconnect. Members carry the time they joined and
re-join every REJOIN_SECONDS, so a web process that dies without leaving stops counting after
EXPIRE_SECONDS.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable

import redis
import redis.asyncio
from django.conf import settings

REJOIN_SECONDS = 3600
EXPIRE_SECONDS = 2 * REJOIN_SECONDS


def _key(group: str) -> str:
    return f"{settings.FLOWS_KEY_PREFIX}live:watch:{group}"


@functools.cache
def _client() -> redis.Redis:
    """Synchronous and pooled: consumers join and leave from their database thread."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def join(group: str, channel: str) -> None:
    key = _key(group)
    with _client().pipeline(transaction=False) as pipe:
        pipe.zadd(key, {channel: time.time()})
        pipe.expire(key, EXPIRE_SECONDS)
        pipe.execute()


def leave(group: str, channel: str) -> None:
    _client().zrem(_key(group), channel)


async def watched(client: redis.asyncio.Redis, groups: Iterable[str]) -> set[str]:
    """The groups among these that someone watches, in one round trip."""
    groups = list(groups)
    since = time.time() - EXPIRE_SECONDS
    async with client.pipeline(transaction=False) as pipe:
        for group in groups:
            pipe.zcount(_key(group), since, "+inf")
        counts = await pipe.execute()
    return {group for group, count in zip(groups, counts, strict=True) if count}
