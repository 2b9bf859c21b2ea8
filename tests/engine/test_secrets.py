"""Secrets: encryption under rotating keys, the names a script reads, redaction, the Redis copy."""

from __future__ import annotations

import pytest

from flows.engine.connections import async_client
from flows.engine.keys import Keys
from flows.engine.secrets import (
    SecretBox,
    SecretError,
    SecretStore,
    new_key,
    redact,
    redact_value,
    replace_tokens,
    secret_names,
)


def test_a_value_decrypts_under_any_listed_key_and_rotates_to_the_first():
    old, new = new_key(), new_key()
    token = SecretBox([old]).encrypt("sk_live_123")
    both = SecretBox([new, old])

    rotated = both.rotate(token)

    assert both.decrypt(token) == "sk_live_123"
    assert SecretBox([new]).decrypt(rotated) == "sk_live_123"
    with pytest.raises(SecretError, match="no longer listed"):
        SecretBox([new]).decrypt(token)


def test_a_key_that_is_not_a_fernet_key_is_refused_naming_the_setting():
    with pytest.raises(SecretError, match="FLOWS_SECRETS_KEY must be Fernet keys"):
        SecretBox.from_setting("not-a-key")


def test_the_token_does_not_hold_the_value():
    assert "sk_live_123" not in SecretBox([new_key()]).encrypt("sk_live_123")


def test_a_script_names_its_secrets_by_string_literal():
    script = 'key = secret("STRIPE_KEY")\nother = secret( \'WEBHOOK\' )\nsecret("STRIPE_KEY")'

    assert secret_names(script) == (["STRIPE_KEY", "WEBHOOK"], None)


def test_a_secret_named_by_anything_but_a_literal_is_flagged_with_its_line():
    names, error = secret_names('x = 1\nname = "KEY"\nsecret(name)')

    assert names == []
    assert (error.line, error.column) == (3, 1)
    assert "string literal" in error.message


def test_a_bad_secret_name_is_flagged():
    _names, error = secret_names('secret("lower")')

    assert "capital letters" in error.message


def test_redaction_replaces_every_value_longest_first():
    secrets = {"KEY": "abc", "LONG_KEY": "abcdef"}

    assert redact("abcdef and abc", secrets) == "[secret:LONG_KEY] and [secret:KEY]"
    assert redact_value({"abc": ["x abc", 1, None]}, secrets) == {
        "[secret:KEY]": ["x [secret:KEY]", 1, None]
    }


async def test_runners_read_the_named_secrets_from_redis_and_a_missing_one_is_named(
    redis_url: str,
):
    box = SecretBox([new_key()])
    async with async_client(redis_url, decode_responses=True) as client:
        store = SecretStore(client, Keys(), box)
        await replace_tokens(client, Keys(), {"A": box.encrypt("one"), "B": box.encrypt("two")})

        assert await store.read(["B"]) == {"B": "two"}
        with pytest.raises(SecretError, match="secret C is not set"):
            await store.read(["A", "C"])
        await replace_tokens(client, Keys(), {"A": box.encrypt("uno")})
        assert await store.read(["A"]) == {"A": "uno"}
        with pytest.raises(SecretError, match="secret B is not set"):
            await store.read(["B"])
