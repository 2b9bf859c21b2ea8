"""Loads the scripts in flows/engine/lua/, each after the shared prelude.lua.

Only the engine loads them (a test proves it): they are the engine's transitions, and they
know its key layout.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis.asyncio as redis


def load_script(client: redis.Redis, name: str) -> Any:
    """lua/{name}.lua registered on the client (no I/O until its first call)."""
    lua = resources.files("flows.engine") / "lua"
    prelude = (lua / "prelude.lua").read_text()
    return client.register_script(prelude + "\n" + (lua / f"{name}.lua").read_text())
