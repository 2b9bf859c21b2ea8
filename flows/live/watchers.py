"""Which live groups someone watches, kept in Redis so every web process sees every socket.

The bridge and the feeds render and send only for watched groups: most runs are never opened,
and rendering their fragments anyway cost the web process a third of its time. A socket joins
(after joining the Channels group, before reading the page's state, so a skipped update is
always covered by that state) and leaves on disconnect. One sorted set per page (a run's page,
the Runs list, the dashboard) holds its sockets as "group|channel", so the bridge asks once per
run whichever Abilities watch it. Members carry the time they joined and re-join every
REJOIN_SECONDS, so a web process that dies without leaving stops counting after EXPIRE_SECONDS.
"""

from __future__ import annotations

import time

import redis.asyncio
from django.conf import settings

from flows import engine_client
from flows.live.groups import Page

REJOIN_SECONDS = 3600
EXPIRE_SECONDS = 2 * REJOIN_SECONDS


def _key(page: Page, flow_id: str) -> str:
    return f"{settings.FLOWS_KEY_PREFIX}live:watch:{page}:{flow_id}"


def join(page: Page, flow_id: str, group: str, channel: str) -> None:
    key = _key(page, flow_id)
    with engine_client.reader().pipeline(transaction=False) as pipe:
        pipe.zadd(key, {f"{group}|{channel}": time.time()})
        pipe.expire(key, EXPIRE_SECONDS)
        pipe.execute()


def leave(page: Page, flow_id: str, group: str, channel: str) -> None:
    engine_client.reader().zrem(_key(page, flow_id), f"{group}|{channel}")


async def watched_by_page(
    client: redis.asyncio.Redis, pages: list[tuple[Page, str]]
) -> list[set[str]]:
    """For each of these pages (page, flow_id), its watched groups; in one round trip."""
    since = time.time() - EXPIRE_SECONDS
    async with client.pipeline(transaction=False) as pipe:
        for page, flow_id in pages:
            pipe.zrangebyscore(_key(page, flow_id), since, "+inf")
        answers = await pipe.execute()
    return [{member.split("|", 1)[0] for member in members} for members in answers]


async def watched(client: redis.asyncio.Redis, pages: list[tuple[Page, str]]) -> set[str]:
    """The watched groups of these pages, all together."""
    return set().union(*await watched_by_page(client, pages))
