"""How many requests each webhook trigger may take per minute, counted in Redis so that every
web worker shares the count.

A fixed window: a counter per trigger and minute, `{FLOWS_KEY_PREFIX}webhook_rate:<trigger
id>:<minute>`, incremented and given its expiry in one MULTI, so a worker that dies between
the two cannot leave a counter that never expires. A burst may straddle two windows (up to
twice the limit within a minute at the edge): accepted, for one round trip per request.
"""

from __future__ import annotations

import math

from django.conf import settings

from flows import engine_client

WINDOW_SECONDS = 60


def window_key(trigger_id: int, window: int) -> str:
    """The one place the counters' keys are built."""
    return f"{settings.FLOWS_KEY_PREFIX}webhook_rate:{trigger_id}:{window}"


def seconds_until_allowed(trigger_id: int, limit: int, now: float) -> int:
    """Count a request at time `now`: 0 if within the limit, else the whole seconds until the
    next window opens (for Retry-After)."""
    window = int(now // WINDOW_SECONDS)
    key = window_key(trigger_id, window)
    # The process's one sync client (its live watchers' too), rebuilt if REDIS_URL changes.
    with engine_client.reader().client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS)
        count, _ = pipe.execute()
    if count <= limit:
        return 0
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
