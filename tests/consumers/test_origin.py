"""A live page's socket opens only from a page of the site itself: same scheme, host and port as
the site was reached on (or an origin in CSRF_TRUSTED_ORIGINS)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from flows.roles import VIEWER
from flowsite.websocket_origin import origin_allowed

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]


async def test_a_socket_from_the_sites_own_origin_is_accepted(connect, make_user):
    viewer = await _viewer(make_user)

    connected, _code = await (await connect("/ws/dashboard/", viewer)).connect()

    assert connected


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:9999",  # another port
        b"https://127.0.0.1",  # another scheme
        b"http://127.0.0.1",  # another port, the default one
        b"https://127.0.0.1:8000",  # another scheme on the same port
        b"http://evil.example:8000",
        b"null",  # sandboxed frames and file:// pages
        b"",
    ],
)
async def test_a_socket_from_another_origin_is_refused(connect, make_user, origin: bytes):
    viewer = await _viewer(make_user)

    connected, _code = await (await connect("/ws/dashboard/", viewer, origin=origin)).connect()

    assert not connected


async def test_a_host_outside_allowed_hosts_is_refused_even_from_its_own_origin(connect, make_user):
    """DNS rebinding: a name the attacker points at this server is not one of its hosts."""
    viewer = await _viewer(make_user)
    socket = await connect(
        "/ws/dashboard/", viewer, origin=b"http://evil.example:8000", host=b"evil.example:8000"
    )

    connected, _code = await socket.connect()

    assert not connected


def test_the_origin_must_match_the_scheme_the_site_was_reached_on(settings):
    settings.ALLOWED_HOSTS = ["flows.example.com"]

    assert origin_allowed("https://flows.example.com", "flows.example.com", secure=True)
    assert not origin_allowed("http://flows.example.com", "flows.example.com", secure=True)
    assert not origin_allowed("https://flows.example.com", "flows.example.com", secure=False)


def test_csrf_trusted_origins_are_allowed_with_their_scheme_and_port(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://flows.example.com", "https://*.example.org"]

    assert origin_allowed("https://flows.example.com", "127.0.0.1:8000", secure=False)
    assert origin_allowed("https://eu.example.org", "127.0.0.1:8000", secure=False)
    assert not origin_allowed("http://flows.example.com", "127.0.0.1:8000", secure=False)
    assert not origin_allowed("https://flows.example.com:8443", "127.0.0.1:8000", secure=False)
    assert not origin_allowed("http://eu.example.org", "127.0.0.1:8000", secure=False)


async def _viewer(make_user) -> User:
    return await database_sync_to_async(make_user)(VIEWER)
