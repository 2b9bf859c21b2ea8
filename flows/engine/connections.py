"""Options for every asyncio Redis connection pool, so that one survives a Redis restart.

redis-py 8.1 (RESP3 by default) turns on its maintenance notifications (a Redis Enterprise
feature) for TCP connections, and with them on, its pool stops checking a pooled connection
before handing it out: after a restart every idle connection fails its next command with
ConnectionError, once each (a live page's socket, a launch, the bridge's next read). Off, a
connection the server closed is replaced at checkout, as with RESP2 or unix sockets. Upstream
fixed it in redis-py's pull request 4260 (after 8.1.0); drop this once a release has it.
"""

from __future__ import annotations

from typing import Any

from redis.maint_notifications import MaintNotificationsConfig


def pool_options() -> dict[str, Any]:
    """Keyword arguments for `redis.asyncio` pools and `Redis.from_url`."""
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}
