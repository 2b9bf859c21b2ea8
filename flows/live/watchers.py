"""Which live groups someone watches, kept in Redis so every web process sees every socket.

The bridge and the feeds render and send only for watched groups: most runs are never opened,
and rendering their fragments anyway cost the web process a third of its time. A socket joins
(after joining the Channels group, before reading the page's state, so a skipped update is
always covered by that state) and leaves on disconnect. One sorted set per page (a run's page,
the Runs list, the dashboard) holds its sockets as "group|channel", so the bridge asks once per
run whichever Abilities watch it. Members carry the time they joined and re-join every
REJOIN_SECONDS, so a web process that dies without leaving stops counting after EXPIRE_SECONDS.
Run pages are also indexed all together (run_pages_key()), so the bridge can tell in one command
that no run page is open at all, and skip the events instead of reading them.
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


def run_pages_key() -> str:
    """Every open run page's socket, as "flow_id|group|channel", scored by when it joined."""
    return f"{settings.FLOWS_KEY_PREFIX}live:watch:run-pages"


def join(page: Page, flow_id: str, group: str, channel: str) -> None:
    key, now = _key(page, flow_id), time.time()
    with engine_client.reader().client.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {f"{group}|{channel}": now})
        pipe.expire(key, EXPIRE_SECONDS)
        if page == "run":
            pipe.zadd(run_pages_key(), {f"{flow_id}|{group}|{channel}": now})
            pipe.zremrangebyscore(run_pages_key(), "-inf", now - EXPIRE_SECONDS)
        pipe.execute()


def leave(page: Page, flow_id: str, group: str, channel: str) -> None:
    with engine_client.reader().client.pipeline(transaction=False) as pipe:
        pipe.zrem(_key(page, flow_id), f"{group}|{channel}")
        if page == "run":
            pipe.zrem(run_pages_key(), f"{flow_id}|{group}|{channel}")
        pipe.execute()


def since() -> float:
    """Members that joined before this have expired."""
    return time.time() - EXPIRE_SECONDS


async def watched_by_page(
    client: redis.asyncio.Redis, pages: list[tuple[Page, str]]
) -> list[set[str]]:
    """For each of these pages (page, flow_id), its watched groups; in one round trip."""
    async with client.pipeline(transaction=False) as pipe:
        for page, flow_id in pages:
            pipe.zrangebyscore(_key(page, flow_id), since(), "+inf")
        answers = await pipe.execute()
    return [{member.split("|", 1)[0] for member in members} for members in answers]


async def watched(client: redis.asyncio.Redis, pages: list[tuple[Page, str]]) -> set[str]:
    """The watched groups of these pages, all together."""
    return set().union(*await watched_by_page(client, pages))
