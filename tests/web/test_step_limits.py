"""The site's maxima for steps, the sandbox's caps and waiting retries, as the web shows them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from flows import engine_client
from flows.engine import Flow, Step, StepStatus
from flows.engine.executor import FlowExecutor
from flows.models import StepDefinition
from tests.web.step_form import post_test_run

STEP = {"name": "charge", "script": "1", "timeout": "5", "retries": "1"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timeout", "1e9", "Timeout must be at most 3600 seconds (the site&#x27;s maximum)"),
        ("timeout", "3600.5", "Timeout must be at most 3600 seconds (the site&#x27;s maximum)"),
        ("retries", "9223372036854775807", "Retries must be at most 25 (the site&#x27;s maximum)"),
    ],
)
def test_a_step_over_the_site_maxima_is_refused_where_it_was_typed(
    operator: Client, stripe, field: str, value: str, message: str
):
    response = operator.post(f"/flows/{stripe.name}/steps/new/", {**STEP, field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not StepDefinition.objects.filter(name="charge").exists()


def test_the_site_maxima_come_from_the_environment():
    script = (
        "import django; django.setup(); from flows.engine.builder import step_limits; "
        "print(step_limits())"
    )
    environment = {**os.environ, "FLOWS_MAX_STEP_TIMEOUT": "7200", "FLOWS_MAX_RETRIES": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "StepLimits(max_timeout_seconds=7200, max_retries=3)"


@pytest.mark.parametrize(
    ("script", "shown"),
    [
        ("fail('x' * 20 * 1024 * 1024)", "(cut from 20,971,526 bytes)"),
        ("for i in range(1001):\n    log('é' * 4000)\n1", "(log truncated after 1,000 lines)"),
    ],
)
def test_the_test_step_answers_huge_results_within_the_caps(
    operator: Client, stripe, script: str, shown: str
):
    response = post_test_run(operator, stripe.name, script)

    assert response.status_code == 200
    assert shown in response.content.decode()


def test_a_step_waiting_to_retry_shows_when_it_runs_next(operator: Client, stripe):
    flow = Flow("waits", (Step("one", "fail('no')", retries=3),))
    flow_id = engine_client.launch(flow, {}, {})
    _fail_first_attempt(flow_id, retry_delay=30)

    response = operator.get(f"/runs/{flow_id}/")

    assert re.search(r"next attempt in (29|30) s \(\d\d:\d\d:\d\d\)", response.content.decode())


@async_to_sync
async def _fail_first_attempt(flow_id: str, retry_delay: float) -> None:
    """What a runner does with an attempt that failed: here without one, at a known delay."""
    async with FlowExecutor(settings.REDIS_URL) as executor:
        await executor.store.ensure_group()
        part = executor.keys.partition_of(flow_id)
        [(task_id, _, claim)] = await executor.store.take(part, "a-runner", 1)
        outcome, _ = await executor.store.finish(
            task_id,
            flow_id,
            "one",
            attempt=claim.attempt,
            consumer="a-runner",
            outcome=StepStatus.FAILED,
            error="no",
            logs=[],
            retry_delay=retry_delay,
        )
    assert outcome == "waiting"
