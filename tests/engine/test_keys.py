"""The key layout: the original names on one server, hash-tagged partitions on a cluster."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from flows.engine.connections import client_url, partitions_of
from flows.engine.environment import SettingsError, read_redis_url
from flows.engine.keys import Keys, partition_tags

# Frozen: an installation's keys carry these tags for its whole life (keys.py).
SIXTEEN_TAGS = (
    "{p0.41}", "{p1.42}", "{p2.3}", "{p3}", "{p4.22}", "{p5.21}", "{p6.11}", "{p7.12}",
    "{p8.61}", "{p9.62}", "{p10.62}", "{p11.61}", "{p12.43}", "{p13.40}", "{p14.12}", "{p15.11}",
)  # fmt: skip


def test_one_server_keeps_the_original_names():
    keys = Keys()
    (part,) = keys.partitions

    assert keys.flow("abc") == "flow:abc"
    assert keys.step("abc", "charge") == "step:abc:charge"
    assert (part.queue, part.events, part.changed_runs, part.runs) == (
        "flows:queue",
        "flows:events",
        "flows:events:changed",
        "flows:runs",
    )
    assert keys.flow_channel("abc") == "flows:events:abc"
    assert Keys("tenant:").flow("abc") == "tenant:flow:abc"


def test_the_sixteen_partitions_tags_are_frozen_and_each_owns_a_sixteenth_of_the_slots():
    assert partition_tags(16) == SIXTEEN_TAGS
    slots = [key_slot(tag.encode()) for tag in SIXTEEN_TAGS]
    assert [slot // 1024 for slot in slots] == list(range(16))


def test_every_key_of_a_run_and_its_partition_falls_in_one_slot():
    keys = Keys("t:", 16)
    flow_id = keys.new_run_id()
    part = keys.partition_of(flow_id)
    names = [keys.flow(flow_id), keys.step(flow_id, "s0"), part.queue, part.events]
    names += [part.changed_runs, part.counters, part.runs, part.delayed]
    names += [part.idempotency("pay", "order-1"), part.limit_slots("pay", "per", "v")]

    assert names[0] == f"t:flow:{part.tag}:{flow_id}"
    assert {key_slot(name.encode()) for name in names} == {key_slot(part.tag.encode())}
    assert key_slot(keys.flow_channel(flow_id).encode()) == key_slot(part.tag.encode())


def test_runs_spread_over_the_partitions_and_an_id_can_be_chosen_into_one():
    keys = Keys("", 16)
    homes = {keys.partition_of(keys.new_run_id()).number for _ in range(2000)}
    wanted = keys.partition_of_flow("limited")

    assert homes == set(range(16))
    assert keys.partition_of(keys.new_run_id(wanted)) == wanted
    assert keys.partition_of_flow("limited") == wanted  # the same for every launch


def test_the_url_names_the_partitions_and_redis_py_never_sees_the_parameter():
    url = "redis://:secret@127.0.0.1:6379/3?partitions=16&health_check_interval=2"

    assert partitions_of(url) == 16
    assert client_url(url) == "redis://:secret@127.0.0.1:6379/3?health_check_interval=2"
    assert (partitions_of("unix:///tmp/r.sock"), client_url("unix:///tmp/r.sock")) == (
        0,
        "unix:///tmp/r.sock",
    )
    with pytest.raises(ValueError, match="partitions must be 0 to 1024"):
        Keys("", 2048)


def test_flows_partitions_is_folded_into_the_url_every_process_reads():
    environ = {"REDIS_URL": "redis://127.0.0.1:6379/0", "FLOWS_PARTITIONS": "16"}

    assert read_redis_url(environ, "REDIS_URL") == "redis://127.0.0.1:6379/0?partitions=16"
    with pytest.raises(SettingsError, match="disagree: the URL says partitions=8, not 16"):
        read_redis_url({**environ, "REDIS_URL": "redis://h/0?partitions=8"}, "REDIS_URL")
    with pytest.raises(SettingsError, match="partitions must be 0 to 1024, got 5000"):
        read_redis_url({"REDIS_URL": "redis://h/0?partitions=5000"}, "REDIS_URL")
