"""Redis unreachable: pages and API calls that need it answer 503 saying so, not a bare 500.

Runs live in Redis, so the run page, the builder's lists, launching and every action fail
while it is down or restarting; the archive (the Runs history, the dashboard) is in the
database and keeps working, and the 503 page points there. The API and webhooks answer
JSON, as they promise for every error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from flows.view_helpers import HtmxHttpRequest

logger = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)
API_ERROR = "Redis is unreachable: try again in a moment"
# What a client should wait before trying again: about as long as a Redis restart takes.
RETRY_AFTER_SECONDS = 5


class RedisUnreachableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HtmxHttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, REDIS_DOWN):
            return None  # Django's own handling: a 500
        logger.warning("Redis is unreachable (%s): 503 for %s", exception, request.path)
        if request.path.startswith(("/api/", "/hooks/")):
            response = JsonResponse({"error": API_ERROR}, status=503)
        else:
            response = render(request, "flows/redis_unreachable.html", status=503)
            if request.htmx:
                # htmx swaps no error response: reload the page instead, which says why.
                response["HX-Refresh"] = "true"
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
