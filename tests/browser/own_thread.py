"""Work a browser test does beside the page, out of the thread that runs Playwright's loop:
Django refuses synchronous database calls in a thread with a running event loop, and
asyncio.run cannot start in it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def in_own_thread(work: Callable[[], T]) -> T:
    """`work()`'s answer, run in a thread of its own whose database connection is closed after."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()  # this thread's own connection

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(run).result()
