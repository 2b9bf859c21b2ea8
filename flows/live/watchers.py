"""Which live groups someone watches, kept in Redis (flows/engine/watches.py) so every web
process sees every socket.

The bridge and the feeds render and send only for watched groups: most runs are never opened,
and rendering their fragments anyway was a large part of the web process's work (docs/live.md).
A socket joins (after joining the Channels group, before reading the page's state, so a skipped
update is always covered by that state) and leaves on disconnect, as "group|channel" on its page
(a run's page, the Runs list, the dashboard), so the bridge asks once per run whichever
Abilities watch it. Members re-join every REJOIN_SECONDS, so a web process that dies without
leaving stops counting after EXPIRE_SECONDS. Run pages are also indexed all together, so the
bridge can tell in one command that no run page is open at all, and skip the events instead of
reading them.
"""

from __future__ import annotations

import redis.asyncio
from django.conf import settings

from flows import engine_client
from flows.engine.connections import partitions_of
from flows.engine.watches import Watches
from flows.runs.groups import Page

REJOIN_SECONDS = 3600
EXPIRE_SECONDS = 2 * REJOIN_SECONDS


def _watches() -> Watches:
    return Watches(
        settings.FLOWS_KEY_PREFIX,
        expire_seconds=EXPIRE_SECONDS,
        partitions=partitions_of(settings.REDIS_URL),
    )


def join(page: Page, flow_id: str, group: str, channel: str) -> None:
    _watches().join(engine_client.reader().client, page, flow_id, f"{group}|{channel}")


def leave(page: Page, flow_id: str, group: str, channel: str) -> None:
    _watches().leave(engine_client.reader().client, page, flow_id, f"{group}|{channel}")


def since() -> float:
    """Members that joined before this have expired."""
    return _watches().since()


async def watched_by_page(
    client: redis.asyncio.Redis, pages: list[tuple[Page, str]]
) -> list[set[str]]:
    """For each of these pages (page, flow_id), its watched groups; in one round trip."""
    members = await _watches().watchers_by_page(client, list(pages))
    return [{member.split("|", 1)[0] for member in page_members} for page_members in members]


async def watched(client: redis.asyncio.Redis, pages: list[tuple[Page, str]]) -> set[str]:
    """The watched groups of these pages, all together."""
    return set().union(*await watched_by_page(client, pages))
