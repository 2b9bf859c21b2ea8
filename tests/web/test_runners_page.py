"""The Runners page: for those who may see runs, listing real runner processes by their
heartbeats, alive, then gone once killed; its table refreshes itself through htmx."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from tests.engine.conftest import (  # noqa: F401 - fixtures used below
    start_runner_process,
    start_runner_process_on,
)

# Bounds on waiting for a runner's first beat, and for its silence to count as gone.
DEADLINE_SECONDS = 20.0
POLL_SECONDS = 0.1


def _row(client: Client, pid: int) -> str:
    """The Runners table's row of the runner process `pid` ('' if none), as htmx polls it."""
    response = client.get("/runners/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    table = response.content.decode()
    assert table.lstrip().startswith('<div id="runner-table"')  # the fragment, not the page
    rows = re.findall(r"<tr id=\"runner-.*?</tr>", table, re.DOTALL)
    return next((row for row in rows if f"<td>{pid}</td>" in row), "")


def _row_when(client: Client, pid: int, condition: Callable[[str], bool]) -> str:
    """Polled: a runner becomes gone by falling silent, which nothing announces."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition(row := _row(client, pid)):
        assert time.monotonic() < deadline, f"runner {pid}'s row never got there: {row!r}"
        time.sleep(POLL_SECONDS)
    return row


def test_a_viewer_sees_a_runner_alive_then_gone_once_it_is_killed(
    viewer: Client,
    start_runner_process: Callable[..., subprocess.Popen],  # noqa: F811 - the fixture
):
    runner = start_runner_process(concurrency=2)

    alive = _row_when(viewer, runner.pid, lambda row: 'data-state="alive"' in row)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    gone = _row_when(viewer, runner.pid, lambda row: 'data-state="gone"' in row)

    assert "0 of 2" in alive
    assert ">gone</span>" in gone


def test_the_page_is_in_the_menu_of_those_who_may_see_runs(viewer: Client, db):
    page = viewer.get("/runners/").content.decode()

    assert '<a href="/runners/" aria-current="page">Runners</a>' in page
    assert "No runner has sent a heartbeat." in page


def test_signed_out_visitors_are_sent_to_log_in(client: Client):
    response = client.get("/runners/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/runners/"


def test_a_user_who_may_not_see_runs_is_refused_and_not_shown_the_page(client: Client, db):
    client.force_login(User.objects.create_user("nobody", password="correct horse 12"))

    assert client.get("/runners/").status_code == 403
    assert 'href="/runners/"' not in client.get("/account/tokens/").content.decode()
