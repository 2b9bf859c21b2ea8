"""Who may scrape /metrics: a scraper with the bearer token (FLOWS_METRICS_TOKEN), or one whose
address is in the allowed networks (FLOWS_METRICS_ALLOW). Either suffices.

Metrics name the flows and steps and how busy the site is, which strangers should not learn;
a scraper has no session, so it gets neither a login page nor a redirect, only a status. With
neither setting, the endpoint does not exist (404): an installation that never asked for
metrics exposes nothing, not even a door to knock on.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from http import HTTPStatus

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def refusal(
    token: str, allowed: Sequence[Network], remote_addr: str, authorization: str
) -> HTTPStatus | None:
    """Why this scraper may not read the metrics (404, 401 or 403), or None when it may.
    401 when a token is configured and was missing or wrong (a token would let it in); 403
    when only addresses are, and its is not one of them."""
    if not token and not allowed:
        return HTTPStatus.NOT_FOUND
    if _address_allowed(remote_addr, allowed):
        return None
    if not token:
        return HTTPStatus.FORBIDDEN
    scheme, _, offered = authorization.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return None
    return HTTPStatus.UNAUTHORIZED


def _address_allowed(remote_addr: str, allowed: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:  # no address (a unix socket), or not one
        return False
    return any(address in network for network in allowed)
