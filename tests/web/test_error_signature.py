"""Error signatures: runs that failed for the same reason share one, whatever their data."""

from __future__ import annotations

import pytest

from flows.error_signatures import MAX_MESSAGE, error_signature, normalise


@pytest.mark.parametrize(
    ("error", "normalised"),
    [
        ("step broken failed: timed out after 1s", "step broken failed: timed out after <n>s"),
        ("amount -12.5 is below 0", "amount <n> is below <n>"),
        ("limit 1e6 exceeded by +3", "limit <n> exceeded by <n>"),
        ("attempt3 took 500ms", "attempt<n> took <n>ms"),
        ("run 3f2a9c1e-1b2c-4d5e-8f90-123456789abc failed", "run <uuid> failed"),
        ("RUN 3F2A9C1E-1B2C-4D5E-8F90-123456789ABC", "RUN <uuid>"),
        ("flow 9f86d081884c7d659a2feaa0c55ad015 is gone", "flow <id> is gone"),
        ("segfault at 0x7fdeadbeef", "segfault at <hex>"),
        ("No such customer: cus_NffrFeUfNV2Hib", "No such customer: cus_<id>"),
        ("order-1042 is missing", "order-<id> is missing"),
        ("token AbCdEf0123456789xyz refused", "token <id> refused"),
        ("key 'amount' not in dict", "key '<value>' not in dict"),
        ('key "amount" not in dict', 'key "<value>" not in dict'),
        ("column `total` is null", "column `<value>` is null"),
        (r"bad name 'it\'s'", "bad name '<value>'"),
        ("can't reach 'api.example.com'", "can't reach '<value>'"),
        (
            'answered 404: {"error": {"message": "No such price"}}',
            'answered <n>: {"error": {"message": "<value>"}}',
        ),
        ("line 2, column 1: shop is down", "line <n>, column <n>: shop is down"),
        ("first line\n  second\tline ", "first line second line"),
    ],
)
def test_it_replaces_what_differs_between_runs(error: str, normalised: str):
    assert normalise(error) == normalised


def test_words_without_digits_are_kept():
    assert normalise("shop.explode: shop is down: maintenance") == (
        "shop.explode: shop is down: maintenance"
    )


def test_a_quoted_uuid_is_one_quoted_value():
    assert normalise("no run '3f2a9c1e-1b2c-4d5e-8f90-123456789abc'") == "no run '<value>'"


def test_runs_that_failed_alike_share_a_signature():
    first = error_signature("No such customer: cus_A1b2C3d4 (request req_9xYz)")
    second = error_signature("No such customer: cus_Zz99Yy88 (request req_1aBc)")

    assert first == second
    assert len(first) == 32


def test_different_causes_have_different_signatures():
    assert error_signature("No such customer: cus_A1") != error_signature("No such price: price_A1")


def test_no_error_has_no_signature():
    assert error_signature("") == ""
    assert error_signature("  \n") == ""


def test_a_long_message_is_cut_before_it_is_normalised():
    long = "x" * MAX_MESSAGE

    assert normalise(long + " and 42 more") == long
    assert error_signature(long + "a") == error_signature(long + "b")
