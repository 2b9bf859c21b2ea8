"""The banners on every page (base.html) when Redis or the runners need an operator.

The context processor hands templates the engine's health check lazily: only a page that
shows the banners (one a signed-in user sees) asks, and the engine keeps the answer for a few
seconds (flows/engine/health.py), so pages do not each pay the round trip. It reads no
database: pages cost the queries they did before.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from flows import engine_client


def health(request: HttpRequest) -> dict[str, object]:
    """`health`: the engine's ServerHealth, read when a template first looks at it."""
    return {"health": SimpleLazyObject(engine_client.server_health)}
