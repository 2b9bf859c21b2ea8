"""ASGI entry point: HTTP and WebSocket through Channels; lifespan runs the background services
(the embedded flow runner's child process, the live bridge and the run archiver, each in one
web worker at a time however many the server runs; the secrets mirror and the scheduler in
every worker)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from flows.alerts.sending import AlertSender  # noqa: E402
from flows.engine.server_version import check_server_at  # noqa: E402
from flows.live.bridge import LiveBridge  # noqa: E402
from flows.live.feeds import LiveFeeds  # noqa: E402
from flows.live.routing import websocket_urlpatterns  # noqa: E402
from flows.runs.archiver import Archiver  # noqa: E402
from flows.schedules.scheduler import Scheduler  # noqa: E402
from flows.secrets.mirror import SecretsMirror  # noqa: E402
from flowsite.leases import OnceAcrossWorkers  # noqa: E402
from flowsite.lifespan import LifespanServices, Service  # noqa: E402
from flowsite.runner_process import RunnerProcess  # noqa: E402
from flowsite.websocket_origin import SameOriginValidator  # noqa: E402


def runner_environment() -> dict[str, str]:
    """What a runner child reads from its environment, from this site's settings."""
    return {
        "FLOWS_SECRETS_KEY": settings.FLOWS_SECRETS_KEY,
        "FLOWS_HTTP_ALLOW": settings.FLOWS_HTTP_ALLOW,
        "FLOWS_HTTP_ALLOW_PRIVATE": str(settings.FLOWS_HTTP_ALLOW_PRIVATE).lower(),
        "FLOWS_HTTP_MAX_BYTES": str(settings.FLOWS_HTTP_MAX_BYTES),
        "FLOWS_SCRIPT_MODULES": ",".join(settings.FLOWS_SCRIPT_MODULES),
    }


def background_services() -> list[Service]:
    """The lifespan's services, each run by one web worker at a time (flowsite/leases.py): every
    worker of a multi-worker server runs this lifespan."""
    url, prefix = settings.REDIS_URL, settings.FLOWS_KEY_PREFIX
    services: list[Service] = []
    if settings.FLOWS_EMBEDDED_RUNNER:
        services.append(
            OnceAcrossWorkers(
                "RunnerProcess",
                lambda: RunnerProcess(
                    url,
                    concurrency=settings.FLOWS_RUNNER_CONCURRENCY,
                    key_prefix=prefix,
                    retention_seconds=settings.FLOWS_RETENTION_SECONDS,
                    environment=runner_environment(),
                ),
                url,
                prefix,
            )
        )
    # Safe in every worker: it rewrites Redis's copy from the database, the same each time.
    services.append(SecretsMirror())
    # In every worker too: each fire time is claimed in Redis, so one of them launches it.
    services.append(Scheduler(url, prefix))
    services.append(
        OnceAcrossWorkers(
            "LiveBridge",
            lambda: LiveBridge(url, prefix),
            url,
            prefix,
            longest_pause_seconds=LiveBridge.longest_pause_seconds,
        )
    )
    services.append(
        OnceAcrossWorkers(
            "Archiver", lambda: Archiver(url, prefix, on_archived=LiveFeeds()), url, prefix
        )
    )
    # Once across workers, or each would send the same alerts.
    services.append(OnceAcrossWorkers("AlertSender", AlertSender, url, prefix))
    return services


application = LifespanServices(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    ),
    services_factory=background_services,
    startup_check=lambda: check_server_at(settings.REDIS_URL),
)
