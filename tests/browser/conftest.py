"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server,
and a flow runner in a background thread for tests that watch a run finish."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from playwright.sync_api import Browser, Page, expect, sync_playwright

from flows.engine.runner import Runner
from flowsite.asgi import application
from tests.web.conftest import make_user, short_lived_connections  # noqa: F401 - shared

CHROMIUM = "/usr/bin/chromium"
# Root in a container: no sandbox; no network chatter of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "correct horse 12"

# A bound on how long an expectation may wait for the page, not a pause: it returns as soon as
# the page matches.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread, which Django takes
    # for async code and refuses ORM calls in; the tests' ORM calls are plain sync code, so
    # allow them, for these tests only.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def _logger_in(base_url: str, new_user: Callable[[str], User]) -> Callable[[Page, str], None]:
    """Create a user in the role and log in through the login page, as a person would."""

    def log_in(page: Page, role: str) -> None:
        user = new_user(role)
        page.goto(f"{base_url}/flows/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Flows")).to_be_visible()

    return log_in


@pytest.fixture
def log_in(live_server, make_user) -> Callable[[Page, str], None]:  # noqa: F811
    return _logger_in(live_server.url, make_user)


@pytest.fixture
def asgi_server(transactional_db: None, short_lived_connections: None) -> Iterator[str]:  # noqa: F811
    """The real ASGI application under uvicorn in a thread (WebSockets, and the lifespan's
    runner, live bridge and archiver), on a socket bound before it starts, so requests simply
    queue until it is up. Yields its base URL."""
    listening = socket.create_server(("127.0.0.1", 0))
    # Static files from the apps' folders, as the live_server serves them (nothing is collected).
    served = ASGIStaticFilesHandler(application)
    config = uvicorn.Config(served, lifespan="on", log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, name="asgi")
    thread.start()
    yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    server.should_exit = True
    thread.join()
    listening.close()


@pytest.fixture
def live_log_in(asgi_server: str, make_user) -> Callable[[Page, str], None]:  # noqa: F811
    return _logger_in(asgi_server, make_user)


@pytest.fixture
def runner() -> Iterator[Runner]:
    """A real runner working in its own thread and event loop, stopped gracefully at teardown."""
    runner = Runner(settings.REDIS_URL, concurrency=1, key_prefix=settings.FLOWS_KEY_PREFIX)
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def work() -> None:
        await runner.start()
        ready.set()
        await runner.run()

    thread = threading.Thread(target=loop.run_until_complete, args=(work(),), name="runner")
    thread.start()
    ready.wait()
    yield runner
    loop.call_soon_threadsafe(runner.stop)
    thread.join()
    loop.close()
