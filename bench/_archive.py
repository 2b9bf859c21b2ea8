"""What the benchmarks of pages that read the archive share: Django set up in this process
against a throwaway SQLite database under a temporary directory (or $DATABASE_URL, whose runs
they add to), and the median and p95 of an action's time."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable


def set_up_django() -> None:
    """Point Django at a throwaway database unless $DATABASE_URL names one, then set it up."""
    workdir = tempfile.mkdtemp(prefix="flowsite-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    os.environ.setdefault("FLOWSITE_VAR_DIR", workdir)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
    import django

    django.setup()


def report(label: str, action: Callable[[], object], repeats: int) -> None:
    """Run the action `repeats` times and print the median and p95 of its wall time, and the
    median of this process' CPU time (which other processes on a busy machine do not inflate;
    a database server's own work is in the wall time only), in milliseconds."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    wall.sort()
    p95 = wall[int(len(wall) * 0.95) - 1]
    print(
        f"  {label:28} median {statistics.median(wall):6.1f} ms   p95 {p95:6.1f} ms"
        f"   CPU median {statistics.median(cpu):6.1f} ms"
    )
