"""ASGI entry point: HTTP and WebSocket through Channels, lifespan running the flow runner."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from flows.engine.runner import Runner  # noqa: E402
from flowsite.lifespan import LifespanRunner  # noqa: E402


def _embedded_runner() -> Runner | None:
    if not settings.FLOWS_EMBEDDED_RUNNER:
        return None
    return Runner(
        settings.REDIS_URL,
        concurrency=settings.FLOWS_RUNNER_CONCURRENCY,
        key_prefix=settings.FLOWS_KEY_PREFIX,
        retention_seconds=settings.FLOWS_RETENTION_SECONDS,
    )


application = LifespanRunner(
    ProtocolTypeRouter({"http": django_asgi_app}),
    runner_factory=_embedded_runner,
)
