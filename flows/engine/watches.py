"""Who watches which live page of the web app, kept in Redis so every web process sees every
socket, and the live bridge can skip the events of runs nobody watches (events.py).

One sorted set per page (a run's page, the Runs list, the dashboard: `Keys.watchers`) holds its
watchers as opaque members (the web app's "group|channel"), scored by when each joined; the
pages of runs are also indexed together, per partition of the runs
(`Partition.run_page_watchers`). Watchers re-join from time to time, and a member older than
`expire_seconds` no longer counts: a web process that dies without leaving stops counting by
itself.
"""

from __future__ import annotations

import time

import redis
import redis.asyncio

from flows.engine.keys import Keys

# The page of one run: its watchers follow the run's events, so they are indexed together.
RUN_PAGE = "run"


class Watches:
    """The watch sets under one key prefix. Joining and leaving are synchronous (the web app's
    sockets call them from a thread, on its pooled synchronous client); the bridge's lookups are
    asynchronous."""

    def __init__(self, key_prefix: str = "", *, expire_seconds: float, partitions: int = 0) -> None:
        self.keys = Keys(key_prefix, partitions)
        self.expire_seconds = expire_seconds

    def since(self) -> float:
        """Members that joined before this have expired."""
        return time.time() - self.expire_seconds

    def join(self, client: redis.Redis, page: str, page_id: str, member: str) -> None:
        key, now = self.keys.watchers(page, page_id), time.time()
        with client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {member: now})
            pipe.expire(key, round(self.expire_seconds))
            if page == RUN_PAGE:
                run_pages = self.keys.partition_of(page_id).run_page_watchers
                pipe.zadd(run_pages, {f"{page_id}|{member}": now})
                pipe.zremrangebyscore(run_pages, "-inf", self.since())
            pipe.execute()

    def leave(self, client: redis.Redis, page: str, page_id: str, member: str) -> None:
        with client.pipeline(transaction=False) as pipe:
            pipe.zrem(self.keys.watchers(page, page_id), member)
            if page == RUN_PAGE:
                run_pages = self.keys.partition_of(page_id).run_page_watchers
                pipe.zrem(run_pages, f"{page_id}|{member}")
            pipe.execute()

    async def watchers_by_page(
        self, client: redis.asyncio.Redis, pages: list[tuple[str, str]]
    ) -> list[list[str]]:
        """For each of these pages (page, page_id), its members still counted; one round trip."""
        since = self.since()
        async with client.pipeline(transaction=False) as pipe:
            for page, page_id in pages:
                pipe.zrangebyscore(self.keys.watchers(page, page_id), since, "+inf")
            return await pipe.execute()
