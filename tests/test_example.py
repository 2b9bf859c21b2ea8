"""The README's example runs to Completed and prints each step as it changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "stripe_flow_example.py"


def test_the_stripe_example_runs_to_completed():
    shown = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True)

    lines = shown.stdout.splitlines()
    assert shown.returncode == 0, shown.stderr
    assert lines[0].startswith("launched flow ")
    retried = next(line for line in lines if "stripe_config_confirm: pending" in line)
    assert "attempt 1 (line 2, column 13: MockApiError: mock API flaky failure" in retried
    assert lines[-2] == "flow completed: all steps done"
    assert "'id': 'prod_mock_1'" in lines[-1]


HTTP_EXAMPLE = EXAMPLE.parent / "stripe_http_example.py"


def test_the_http_example_calls_the_stripe_stand_in_with_the_key_kept_secret():
    shown = subprocess.run([sys.executable, str(HTTP_EXAMPLE)], capture_output=True, text=True)

    assert shown.returncode == 0, shown.stderr
    assert "flow completed: all steps done" in shown.stdout
    assert "create_product log: http: POST 127.0.0.1/v1/products 200 " in shown.stdout
    assert "'unit_amount': 4200" in shown.stdout.splitlines()[-1]
    assert "sk_test_" not in shown.stdout + shown.stderr


BRANCHING_EXAMPLE = EXAMPLE.parent / "branching_example.py"


def test_the_branching_example_charges_and_reserves_at_once_and_skips_the_branch_not_taken():
    paid = subprocess.run([sys.executable, str(BRANCHING_EXAMPLE)], capture_output=True, text=True)
    declined = subprocess.run(
        [sys.executable, str(BRANCHING_EXAMPLE), "4000 0000 0000 0002"],
        capture_output=True,
        text=True,
    )

    assert paid.returncode == 0, paid.stderr
    lines = paid.stdout.splitlines()
    # Both branches start before either ends.
    assert lines.index("  reserve: running") < lines.index("  charge: completed")
    assert lines.index("  charge: running") < lines.index("  reserve: completed")
    assert "  notify: skipped" in lines and "  ship: completed" in lines
    assert lines[-1] == "receipt: {'charge': 'paid', 'shipped': ['flow plan']}"
    assert declined.returncode == 0, declined.stderr
    assert "  ship: skipped" in declined.stdout.splitlines()
    assert declined.stdout.splitlines()[-1] == "receipt: {'charge': 'declined', 'shipped': []}"
