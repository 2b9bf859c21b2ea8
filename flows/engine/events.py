"""Read the engine's events stream as a member of a consumer group, for the web's live bridge.

Each event reaches one member of a group. Events are read unacknowledged (NOACK): nothing stays
pending, nothing is taken over, no XACK round trips. A reader that stops may lose what it held,
which suits a reader whose readers repair themselves: every live page is sent the current state
when its socket (re)connects.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from typing import Any

import redis.asyncio as redis

from flows.engine.keys import Keys
from flows.engine.lua_scripts import load_script


class EventReader:
    def __init__(self, client: redis.Redis, keys: Keys, group: str) -> None:
        self.client = client
        self.keys = keys
        self.group = group
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._skip_unless_watched = load_script(client, "skip_unless_watched")

    async def ensure_group(self) -> None:
        """Join the group; a new group starts with the events still in the stream."""
        try:
            await self.client.xgroup_create(self.keys.events, self.group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read(
        self, count: int = 500, block_ms: int | None = 500
    ) -> list[tuple[str, dict[str, Any]]]:
        """Up to `count` new events, waiting up to block_ms for one (None: not waiting)."""
        answer = await self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.keys.events: ">"},
            count=count,
            block=block_ms,
            noack=True,
        )
        entries = [entry for _stream, batch in answer or [] for entry in batch]
        return [(event_id, json.loads(fields["event"])) for event_id, fields in entries]

    async def skip_unless_watched(self, since: float) -> bool:
        """Whether some run's page is open (a watcher joined at `since` or later: watches.py);
        if none is, the group is moved past every event so far, in the same step, and they are
        never read. Reading every event of busy runs nobody looks at costs the runners speed."""
        keys = [self.keys.events, self.keys.run_page_watchers]
        return bool(await self._skip_unless_watched(keys=keys, args=[self.group, since]))

    async def leave(self) -> None:
        """Leave the group (nothing is pending for a reader that does not acknowledge)."""
        await self.client.xgroup_delconsumer(self.keys.events, self.group, self.consumer)
