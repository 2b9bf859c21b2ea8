"""How often a run's page may be updated: a token bucket per run.

A run may send BURST updates back to back (a step's end and the next step's start are two
transitions a fraction of a millisecond apart, and an operator should see both at once), then
one per INTERVAL while it stays that busy: faster than that a browser cannot usefully redraw.
"""

from __future__ import annotations

INTERVAL = 0.05
BURST = 3


class Pace:
    def __init__(self) -> None:
        self._allowance: dict[str, tuple[float, float]] = {}  # run -> (updates left, as of)

    def allowance(self, flow_id: str, now: float) -> float:
        left, since = self._allowance.get(flow_id, (BURST, now))
        return min(BURST, left + (now - since) / INTERVAL)

    def ready(self, flow_id: str, now: float) -> bool:
        return self.allowance(flow_id, now) >= 1

    def wait(self, flow_id: str, now: float) -> float:
        """Seconds until the run may send its next update."""
        return max(0.0, (1 - self.allowance(flow_id, now)) * INTERVAL)

    def spend(self, flow_ids: list[str], now: float) -> None:
        """Each of these runs sends an update now."""
        for flow_id in flow_ids:
            self._allowance[flow_id] = (self.allowance(flow_id, now) - 1, now)
        # Runs whose allowance is full again need no entry: a missing one means full.
        self._allowance = {
            run: entry for run, entry in self._allowance.items() if self.allowance(run, now) < BURST
        }
