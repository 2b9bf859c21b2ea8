"""Options for every asyncio Redis connection pool: survive a Redis restart, and wait for
replies as long as the command takes.

redis-py 8.1 (RESP3 by default) turns on its maintenance notifications (a Redis Enterprise
feature) for TCP connections, and with them on, its pool stops checking a pooled connection
before handing it out: after a restart every idle connection fails its next command with
ConnectionError, once each (a live page's socket, a launch, the bridge's next read). Off, a
connection the server closed is replaced at checkout, as with RESP2 or unix sockets. Upstream
fixed it in redis-py's pull request 4260 (after 8.1.0); drop this once a release has it.

redis-py 8.1 also gives every connection 5-second timeouts by default (earlier releases had
none). A reply may rightly take longer: a blocking read, a wait on pub/sub, a busy server; and
a connection made while its event loop serves thousands of calls (a gather of 5,000 waits) can
take over 5 s to finish its handshake, through no fault of the server. So replies are waited
for as long as they take (what every caller here was written for), and connecting is bounded
at CONNECT_TIMEOUT_SECONDS: an unreachable server is still an error, not a hang.
"""

from __future__ import annotations

from typing import Any

from redis.maint_notifications import MaintNotificationsConfig

CONNECT_TIMEOUT_SECONDS = 30.0


def pool_options() -> dict[str, Any]:
    """Keyword arguments for `redis.asyncio` pools and `Redis.from_url`."""
    return {
        "maint_notifications_config": MaintNotificationsConfig(enabled=False),
        "socket_timeout": None,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
    }
