"""The built-in mock API, for trying flows against success, failure, timeout and flaky services.

Scripts call it as `mock_api(scenario, fail_times=0, delay=0.0, payload=None)`; Python code calls
the same function and passes `attempt` (1-based) and `timeout` where the script runtime would.
"""

from __future__ import annotations

import time
from typing import Any

SCENARIOS = ("success", "failure", "timeout", "flaky", "slow")

SAMPLE_PAYLOAD = {"id": "mock_123", "status": "ok", "livemode": False}


class MockApiError(Exception):
    """The mock service answered with an error (the "failure" and "flaky" scenarios)."""


class MockApiTimeout(MockApiError):
    """The mock service did not answer in time (the "timeout" scenario)."""


def mock_api(
    scenario: str,
    fail_times: int = 0,
    delay: float = 0.0,
    payload: Any = None,
    *,
    attempt: int = 1,
    timeout: float = 30.0,
) -> Any:
    """Behave like a remote API in the given scenario and return its payload."""
    if scenario not in SCENARIOS:
        raise ValueError(
            f"unknown mock_api scenario {scenario!r}: use one of {', '.join(SCENARIOS)}"
        )
    answer = SAMPLE_PAYLOAD if payload is None else payload
    if scenario == "failure":
        raise MockApiError("mock API failure: the service answered 500")
    if scenario == "timeout":
        # Hold the caller for its whole timeout, as a hung service would.
        time.sleep(timeout)
        raise MockApiTimeout(f"mock API did not answer within {timeout:g}s")
    if scenario == "flaky" and attempt <= fail_times:
        raise MockApiError(f"mock API flaky failure on attempt {attempt} of {fail_times} failing")
    if scenario == "slow" or delay > 0:
        time.sleep(max(0.0, float(delay)))
    return answer
