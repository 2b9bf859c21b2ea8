"""The web side's engine client: one executor per process, however many threads ask for it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from flows import engine_client

THREADS = 8


def _all_at_once(ask):
    """Call `ask` from THREADS threads released together; their answers."""
    start = threading.Barrier(THREADS)

    def when_released(_):
        start.wait()
        return ask()

    with ThreadPoolExecutor(THREADS) as threads:
        return list(threads.map(when_released, range(THREADS)))


def test_threads_asking_at_once_for_a_new_engine_share_one_executor(settings, redis_url):
    settings.FLOWS_KEY_PREFIX = "one-engine:"  # a changed client setting: the next call builds anew

    engines = _all_at_once(engine_client._engine)

    assert len({id(executor) for _loop, executor in engines}) == 1
