"""Test runs of step scripts are bounded: two at once in a web process, one per user. Past that
the user is told at once, in the test result, that the server is busy; nothing queues."""

from __future__ import annotations

import html
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client

from flows import engine_client
from flows.roles import OPERATOR
from tests.web.step_form import post_test_run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]


def _operator(name: str) -> Client:
    user = User.objects.create_user(username=name)
    user.groups.add(Group.objects.get(name=OPERATOR))
    client = Client()
    client.force_login(user)
    return client


def _test_run(client: Client, flow: str) -> str:
    response = post_test_run(client, flow, '"done"')
    return html.unescape(response.content.decode())


@contextmanager
def _held_open(monkeypatch, flow: str, clients: list[Client]) -> Iterator[list[str]]:
    """A test run from each client, held inside the sandbox call until the block ends (later
    test runs go straight through); yields their responses, complete after the block."""
    real = engine_client.run_script_once
    entered, release, calls = threading.Semaphore(0), threading.Event(), itertools.count()

    def held(request):
        if next(calls) < len(clients):
            entered.release()
            release.wait()
        return real(request)

    monkeypatch.setattr(engine_client, "run_script_once", held)
    responses: list[str] = []

    def run_in_thread(client: Client) -> None:
        try:
            responses.append(_test_run(client, flow))
        finally:
            connections.close_all()  # this thread's own: the test client leaves it open

    threads = [threading.Thread(target=run_in_thread, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for _ in clients:
        entered.acquire()  # each is inside the sandbox call now
    try:
        yield responses
    finally:
        release.set()
        for thread in threads:
            thread.join()


def test_a_third_test_run_at_once_is_told_the_server_is_busy(monkeypatch, stripe):
    first, second, third = _operator("ada"), _operator("bob"), _operator("cy")

    with _held_open(monkeypatch, stripe.name, [first, second]) as held:
        refused = _test_run(third, stripe.name)

    assert "Not run: The server is busy with 2 other test runs: try again in a moment." in refused
    assert "status-completed" not in refused
    assert all("status-completed" in content for content in held)
    assert "status-completed" in _test_run(third, stripe.name)  # the slots were given back


def test_a_user_runs_one_test_at_a_time_while_others_run_theirs(monkeypatch, stripe):
    ada, bob = _operator("ada"), _operator("bob")

    with _held_open(monkeypatch, stripe.name, [ada]):
        refused = _test_run(ada, stripe.name)
        other = _test_run(bob, stripe.name)

    assert "Not run: You already have a test running: wait for its result" in refused
    assert "status-completed" not in refused
    assert "status-completed" in other
