"""Steps that reach the world through a real runner: HTTP to a real local server, and secrets
that reach the script but nothing a run keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.connections import async_client
from flows.engine.grants import HttpSettings
from flows.engine.keys import Keys
from flows.engine.runner_settings import RunnerSettings
from flows.engine.secrets import SecretBox, new_key, replace_tokens
from tests.engine.flows import one_step_flow
from tests.engine.local_http import LocalHttpServer, local_http_server

VALUE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
KEY = new_key()


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


@pytest.fixture
async def secret_set(redis_url: str) -> None:
    async with async_client(redis_url, decode_responses=True) as client:
        await replace_tokens(client, Keys(), {"API_KEY": SecretBox([KEY]).encrypt(VALUE)})


@pytest.fixture
async def granting_runner(redis_url: str) -> AsyncIterator[Runner]:
    """A runner allowed to reach this machine's loopback server, with the secrets key."""
    http = HttpSettings(allow="127.0.0.1", allow_private=True)
    runner = Runner(redis_url, concurrency=2, lease_seconds=1.0, http=http, secrets_key=KEY)
    task = asyncio.create_task(runner.run(), name="granting-runner")
    yield runner
    runner.stop()
    await task


async def _everything_in_redis(redis_url: str) -> str:
    """Every key's every value, as text: where a leaked secret would be."""
    async with async_client(redis_url, decode_responses=True) as client:
        texts = []
        async for key in client.scan_iter():
            kind = await client.type(key)
            if kind == "hash":
                texts.append(str(await client.hgetall(key)))
            elif kind == "stream":
                texts.append(str(await client.xrange(key)))
            elif kind == "zset":
                texts.append(str(await client.zrange(key, 0, -1)))
            elif kind == "string":
                texts.append(str(await client.get(key)))
        return "\n".join(texts)


async def test_a_step_posts_to_a_local_server_with_a_secret_that_no_run_state_keeps(
    executor: FlowExecutor,
    granting_runner: Runner,
    server: LocalHttpServer,
    secret_set: None,
    redis_url: str,
):
    script = f"""
key = secret("API_KEY")
log("using " + key)
answer = http.post("{server.url("/v1/charges")}", json={{"amount": 42}},
                   headers={{"Authorization": "Bearer " + key}})
{{"status": answer.status, "seen": answer.json["authorization"]}}
"""
    flow_id = await executor.execute_flow(one_step_flow(script))

    final = await executor.wait_for_flow(flow_id, timeout=30)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.COMPLETED
    assert step.output == {"status": 200, "seen": "Bearer [secret:API_KEY]"}
    assert step.logs[0] == "using [secret:API_KEY]"
    assert step.logs[1].startswith("http: POST 127.0.0.1/v1/charges 200 ")
    assert VALUE not in await _everything_in_redis(redis_url)


async def test_a_secret_in_an_error_is_redacted_in_the_step_and_its_attempts(
    executor: FlowExecutor, granting_runner: Runner, secret_set: None, redis_url: str
):
    flow = one_step_flow('fail("rejected key " + secret("API_KEY"))', retries=1)
    flow_id = await executor.execute_flow(flow)

    final = await executor.wait_for_flow(flow_id, timeout=30)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.FAILED
    assert "rejected key [secret:API_KEY]" in step.error
    assert all("[secret:API_KEY]" in attempt.error for attempt in step.attempts)
    assert VALUE not in await _everything_in_redis(redis_url)


async def test_a_host_not_allowed_fails_the_attempt_with_one_line(
    executor: FlowExecutor, granting_runner: Runner
):
    flow_id = await executor.execute_flow(one_step_flow('http.get("https://api.other.com/")'))

    await executor.wait_for_flow(flow_id, timeout=30)

    step = await executor.get_step_state(flow_id, "one")
    assert step.status == StepStatus.FAILED
    assert step.error.endswith("http: host api.other.com is not allowed (FLOWS_HTTP_ALLOW)")


async def test_a_secret_that_is_not_set_fails_the_attempt_naming_it(
    executor: FlowExecutor, granting_runner: Runner
):
    flow_id = await executor.execute_flow(one_step_flow('secret("MISSING")'))

    await executor.wait_for_flow(flow_id, timeout=30)

    step = await executor.get_step_state(flow_id, "one")
    assert step.error == "secret MISSING is not set: an admin sets it on Secrets"


async def test_a_secret_named_by_anything_but_a_literal_is_refused_when_the_flow_is_built():
    with pytest.raises(ValueError, match="secret\\(\\) takes the name as a string literal"):
        one_step_flow('secret("API" + "_KEY")')


def test_bad_http_settings_name_their_variable():
    with pytest.raises(ValueError, match="FLOWS_HTTP_ALLOW: 'a/b' is not a host"):
        RunnerSettings.from_env({"FLOWS_HTTP_ALLOW": "a/b"})
    with pytest.raises(ValueError, match="FLOWS_HTTP_ALLOW_PRIVATE must be true or false"):
        RunnerSettings.from_env({"FLOWS_HTTP_ALLOW_PRIVATE": "maybe"})
    assert RunnerSettings.from_env({"FLOWS_HTTP_ALLOW": "x.test"}).http.allow == "x.test"


async def test_a_flow_narrows_the_sites_hosts_and_a_bad_entry_is_refused(
    executor: FlowExecutor, granting_runner: Runner, server: LocalHttpServer
):
    step = new_step("one").script(f'http.get("{server.url("/")}").status').build()
    narrowed = new_flow("narrowed").add_step(step).allowed_hosts("api.stripe.com").build()
    open_flow = new_flow("open").add_step(step).build()

    narrowed_id, open_id = await executor.execute_flows([narrowed, open_flow])
    await executor.wait_for_flows([narrowed_id, open_id], timeout=30)

    refused = await executor.get_step_state(narrowed_id, "one")
    assert refused.error.endswith("http: host 127.0.0.1 is not allowed (the flow's allowed hosts)")
    assert (await executor.get_step_state(open_id, "one")).output == 200
    with pytest.raises(ValueError, match="allowed hosts: 'a/b' is not a host"):
        new_flow("bad").add_step(step).allowed_hosts("a/b").build()


async def test_a_runner_without_django_resolves_secrets_with_the_same_key(
    executor: FlowExecutor,
    secret_set: None,
    start_runner_process,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("FLOWS_SECRETS_KEY", KEY)
    start_runner_process(1, 5.0)

    flow_id = await executor.execute_flow(one_step_flow('secret("API_KEY")[:8]'))
    final = await executor.wait_for_flow(flow_id, timeout=60)

    assert final.status == FlowStatus.COMPLETED
    assert (await executor.get_step_state(flow_id, "one")).output == VALUE[:8]
