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
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis

from flows.engine.keys import Keys, Partition
from flows.engine.lua_scripts import call_each, load_script
from flows.engine.stream_bells import StreamBells


class EventReader:
    def __init__(self, client: redis.Redis, keys: Keys, group: str, redis_url: str) -> None:
        self.client = client
        self.keys = keys
        self.group = group
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._skip_unless_watched = load_script(client, "skip_unless_watched")
        # A cluster refuses a read of streams in different slots, and a blocking read of each
        # would wait for the slowest: there the streams are read together without blocking,
        # and their bells say when to read again.
        self._bells: StreamBells | None = None
        if isinstance(client, redis.RedisCluster):
            self._bells = StreamBells(redis_url, [part.events for part in keys.partitions])

    async def ensure_group(self) -> None:
        """Join the group on each partition's stream; a new group starts with the events still
        in the stream."""
        for part in self.keys.partitions:
            try:
                await self.client.xgroup_create(part.events, self.group, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        if self._bells is not None and not self._bells.started:
            self._bells.start()

    async def read(
        self, count: int = 500, block_ms: int | None = 500
    ) -> list[tuple[str, dict[str, Any]]]:
        """Up to `count` new events a partition, waiting up to block_ms for one (None: not
        waiting)."""
        if self._bells is None:
            answers = [await self._read_group(self.client, count, block_ms)]
        else:
            answers = await self._read_each(count)
            if not any(answers) and block_ms:
                await self._bells.wait(block_ms / 1000)
                answers = await self._read_each(count)
        entries = [
            entry for answer in answers for _stream, batch in answer or [] for entry in batch
        ]
        return [(event_id, json.loads(fields["event"])) for event_id, fields in entries]

    async def _read_each(self, count: int) -> list:
        """Each partition's new events, in one round trip per node, without blocking."""
        self._bells.forget()  # an event recorded from now on rings anew
        async with self.client.pipeline(transaction=False) as pipe:
            for part in self.keys.partitions:
                self._read_group(pipe, count, None, [part])
            return await pipe.execute()

    def _read_group(
        self,
        client: Any,
        count: int,
        block_ms: int | None,
        parts: Sequence[Partition] | None = None,
    ) -> Any:
        """XREADGROUP of the partitions' event streams (all by default), unacknowledged."""
        return client.xreadgroup(
            self.group,
            self.consumer,
            {part.events: ">" for part in parts or self.keys.partitions},
            count=count,
            block=block_ms,
            noack=True,
        )

    async def skip_unless_watched(self, since: float) -> bool:
        """Whether some run's page is open (a watcher joined at `since` or later: watches.py).
        In each partition where none is, the group is moved past every event so far, in the
        same step, and they are never read. Reading every event of busy runs nobody looks at
        costs the runners speed."""
        calls = [
            (
                self._skip_unless_watched,
                {"keys": [part.events, part.run_page_watchers], "args": [self.group, since]},
            )
            for part in self.keys.partitions
        ]
        return any(await call_each(self.client, calls))

    async def leave(self) -> None:
        """Leave the group (nothing is pending for a reader that does not acknowledge)."""
        if self._bells is not None:
            await self._bells.close()
        for part in self.keys.partitions:
            await self.client.xgroup_delconsumer(part.events, self.group, self.consumer)
