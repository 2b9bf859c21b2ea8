"""Keeps the engine's Redis copy of the secrets equal to the database's, from the web process.

Every change writes both at once (flows/secrets/vault.py); this also writes the copy when the web
process starts and every MIRROR_SECONDS after, so a Redis that lost it (restarted without
persistence, flushed) has it again within that time, and runners stop failing steps with
"secret ... is not set".
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async

from flows.secrets import vault

MIRROR_SECONDS = 30.0


class SecretsMirror:
    def __init__(self) -> None:
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await database_sync_to_async(vault.mirror)()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), MIRROR_SECONDS)
            if not self._stop.is_set():
                await database_sync_to_async(vault.mirror)()
