"""One value per process, built when first asked for, whichever thread asks first.

functools.cache may call its function twice when two threads ask at once. For the engine
client that meant a second executor, with a loop thread and Redis connections that nothing
ever closed: the web process asks from its request threads, the lifespan's services and the
ASGI loop at the same moment it starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ProcessWide(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value

    def forget(self) -> T | None:
        """Drop the value, for the next call to build anew; return it (None if never built)
        for the caller to close."""
        with self._lock:
            value, self._value = self._value, None
            return value
