"""Errors as the JSON endpoints (the API, webhooks) answer them: `{"error": "..."}`."""

from __future__ import annotations

from django.http import JsonResponse


def json_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)
