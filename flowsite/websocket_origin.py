"""The WebSocket origin check: a live page's socket opens only from a page of this very site.

Browsers send cookies with a WebSocket handshake from any page, so the Origin header is what
stops another site from reading live pages as the visitor. Channels' AllowedHostsOriginValidator
compares only the origin's host name with ALLOWED_HOSTS, ignoring scheme and port: a page on any
port of an allowed host passed. This applies the rule Django's CSRF check applies to an Origin
header instead: the origin must be the site's own, the scheme the socket came in on and the Host
it was sent to (itself in ALLOWED_HOSTS), or be listed in CSRF_TRUSTED_ORIGINS.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def origin_allowed(origin: str, host: str, secure: bool) -> bool:
    """Whether a page at `origin` may open a socket to the site reached as `host` (the Host
    header), over TLS if `secure`."""
    domain, _port = split_domain_port(host)
    own_origin = f"{'https' if secure else 'http'}://{host}"
    if domain and validate_host(domain, settings.ALLOWED_HOSTS) and origin == own_origin:
        return True
    return _trusted(origin)


def _trusted(origin: str) -> bool:
    """Listed in CSRF_TRUSTED_ORIGINS, exactly or under a `scheme://*.domain` entry."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        scheme, netloc = urlsplit(origin)[:2]
    except ValueError:
        return False
    wildcards = (urlsplit(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS if "*" in trusted)
    return any(
        wildcard.scheme == scheme and is_same_domain(netloc, wildcard.netloc.lstrip("*"))
        for wildcard in wildcards
    )


class SameOriginValidator:
    """ASGI middleware for WebSocket routes: a socket from an origin that is not allowed (or with
    none) is closed before it is accepted. The scheme is the one the server saw: uvicorn takes it
    from X-Forwarded-Proto when a trusted proxy (FORWARDED_ALLOW_IPS) terminates TLS."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send) -> None:
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin1")
        host = headers.get(b"host", b"").decode("latin1")
        secure = scope.get("scheme", "ws") == "wss"
        if origin and origin_allowed(origin, host, secure):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
