"""A run's page gets a burst of updates at once, then one per interval while the run is busy."""

from __future__ import annotations

import pytest

from flows.live.pace import BURST, INTERVAL, Pace


def test_a_quiet_run_sends_a_burst_at_once_then_waits_an_interval():
    pace = Pace()
    for _ in range(BURST):
        assert pace.ready("run", now=10.0)
        pace.spend(["run"], now=10.0)

    assert not pace.ready("run", now=10.0)
    assert pace.wait("run", now=10.0) == pytest.approx(INTERVAL)
    assert pace.ready("run", now=10.0 + INTERVAL)


def test_the_allowance_refills_while_the_run_is_quiet():
    pace = Pace()
    pace.spend(["run"] * BURST, now=10.0)

    assert pace.allowance("run", now=10.0 + 2 * INTERVAL) == pytest.approx(2)
    assert pace.allowance("run", now=60.0) == BURST


def test_runs_are_paced_apart():
    pace = Pace()
    pace.spend(["busy"] * BURST, now=10.0)

    assert pace.ready("other", now=10.0)
