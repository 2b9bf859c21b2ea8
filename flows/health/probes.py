"""Probes for load balancers and orchestrators: no login (a probe has none), and answers that
name nothing of the servers behind (no address, no version), so strangers learn nothing.

/healthz: the process is alive and serving requests; it asks nothing else, since restarting a
worker because Redis or the database is away would not bring them back. /readyz: this worker
can do its job: the database answers, and Redis answers and is a server the engine supports.
"""

from __future__ import annotations

import logging

import redis
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from flows import engine_client
from flows.engine.server_version import UnsupportedServer

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when ready, else 503; either way what each dependency answered, in a word."""
    checks = {"database": _database(), "redis": _redis()}
    ready = all(answer == "ok" for answer in checks.values())
    return JsonResponse({"ready": ready, **checks}, status=200 if ready else 503)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("readyz: the database does not answer (%s)", error)
        return "unreachable"
    return "ok"


def _redis() -> str:
    try:
        engine_client.health().server()
    except UnsupportedServer as error:
        logger.warning("readyz: %s", error)
        return "unsupported"
    except redis.RedisError as error:
        logger.warning("readyz: Redis does not answer (%s)", error)
        return "unreachable"
    return "ok"
