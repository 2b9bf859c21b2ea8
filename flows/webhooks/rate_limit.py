"""How many requests each webhook trigger may take per minute, counted in Redis so that every
web worker shares the count.

A fixed window: a counter per trigger and minute, `{FLOWS_KEY_PREFIX}webhook_rate:<trigger
id>:<minute>`, incremented and given its expiry in one MULTI, so a worker that dies between
the two cannot leave a counter that never expires. A burst may straddle two windows (up to
twice the limit within a minute at the edge): accepted, for one round trip per request.
"""

from __future__ import annotations

import math
from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from flows.engine.connections import pool_options
from flows.process_wide import ProcessWide

WINDOW_SECONDS = 60


def _connect() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, **pool_options())


client = ProcessWide(_connect)


@receiver(setting_changed)
def _forget_client(setting: str, **kwargs: Any) -> None:
    """Reconnect to the new server when REDIS_URL changes (as the engine client does)."""
    if setting == "REDIS_URL" and (old := client.forget()) is not None:
        old.close()


def window_key(trigger_id: int, window: int) -> str:
    """The one place the counters' keys are built."""
    return f"{settings.FLOWS_KEY_PREFIX}webhook_rate:{trigger_id}:{window}"


def seconds_until_allowed(trigger_id: int, limit: int, now: float) -> int:
    """Count a request at time `now`: 0 if within the limit, else the whole seconds until the
    next window opens (for Retry-After)."""
    window = int(now // WINDOW_SECONDS)
    with client().pipeline(transaction=True) as pipe:
        pipe.incr(window_key(trigger_id, window))
        pipe.expire(window_key(trigger_id, window), WINDOW_SECONDS)
        count, _ = pipe.execute()
    if count <= limit:
        return 0
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
