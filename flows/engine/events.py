"""Read the engine's events stream as a member of a consumer group.

Each event reaches one member of a group, and stays pending until acknowledged, so a reader
that stops mid-batch loses nothing: its events are taken over by the group's next reader.
The live dashboard bridge and the run archive each read through a group of their own.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from typing import Any

import redis.asyncio as redis

from flows.engine.keys import Keys

# Events a stopped reader left unacknowledged are taken over after this long.
ABANDONED_AFTER_MS = 30_000


class EventReader:
    def __init__(
        self, client: redis.Redis, keys: Keys, group: str, acknowledged: bool = True
    ) -> None:
        """`acknowledged=False` reads with NOACK, for a reader that may lose what it holds
        when it stops: nothing stays pending, nothing is taken over, no XACK round trips."""
        self.client = client
        self.keys = keys
        self.group = group
        self.acknowledged = acknowledged
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

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
        """Up to `count` events: abandoned ones first, else new ones (waiting up to block_ms;
        None: not waiting)."""
        entries = []
        if self.acknowledged:
            _next, abandoned, *_deleted = await self.client.xautoclaim(
                self.keys.events, self.group, self.consumer, ABANDONED_AFTER_MS, count=count
            )
            entries = [entry for entry in abandoned if entry[1]]
        if not entries:
            answer = await self.client.xreadgroup(
                self.group,
                self.consumer,
                {self.keys.events: ">"},
                count=count,
                block=block_ms,
                noack=not self.acknowledged,
            )
            entries = [entry for _stream, batch in answer or [] for entry in batch]
        return [(event_id, json.loads(fields["event"])) for event_id, fields in entries]

    async def ack(self, event_ids: list[str]) -> None:
        if event_ids:
            await self.client.xack(self.keys.events, self.group, *event_ids)

    async def leave(self) -> None:
        """Leave the group if nothing is pending for this reader (else others take it over)."""
        pending = await self.client.xpending_range(
            self.keys.events, self.group, min="-", max="+", count=1, consumername=self.consumer
        )
        if not pending:
            await self.client.xgroup_delconsumer(self.keys.events, self.group, self.consumer)
