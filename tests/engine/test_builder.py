from __future__ import annotations

import pytest

from flows.engine import new_flow, new_step


def test_it_builds_steps_and_flows_with_the_original_fluent_api():
    first = new_step("stripe_config").script("{'key': 'sk_test'}").timeout(5).retries(2).build()
    second = new_step("create_product").script("steps['stripe_config']").build()
    flow = new_flow("stripe_payment_request").add_step(first).add_step(second).build()

    assert flow.name == "stripe_payment_request"
    assert [step.name for step in flow.steps] == ["stripe_config", "create_product"]
    assert (first.timeout, first.retries, first.max_attempts) == (5, 2, 3)
    assert (second.timeout, second.retries) == (30, 0)


def test_a_flow_survives_a_round_trip_through_a_dict():
    flow = new_flow("f").add_step(new_step("a").script("1").timeout(2.5).build()).build()
    assert type(flow).from_dict(flow.to_dict()) == flow


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: new_step("").script("1").build(), "step name must not be empty"),
        (lambda: new_step("  ").script("1").build(), "step name must not be empty"),
        (lambda: new_step("a").script("1").timeout(0).build(), "timeout must be a positive"),
        (lambda: new_step("a").script("1").timeout(-3).build(), "timeout must be a positive"),
        (lambda: new_step("a").script("1").retries(-1).build(), "retries must be a whole number"),
        (lambda: new_step("a").script("1").retries(1.5).build(), "retries must be a whole number"),
        (lambda: new_step("a").script("").build(), "script is empty"),
        (lambda: new_flow("f").build(), "flow 'f' has no steps"),
        (
            lambda: new_flow("").add_step(new_step("a").script("1").build()).build(),
            "flow name must not be empty",
        ),
    ],
)
def test_build_says_exactly_what_is_wrong(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_duplicate_step_name_is_rejected():
    step = new_step("charge").script("1").build()
    with pytest.raises(ValueError, match="flow 'pay' has two steps named 'charge'"):
        new_flow("pay").add_step(step).add_step(step).build()


def test_a_script_that_does_not_parse_is_rejected_with_line_and_column():
    with pytest.raises(ValueError) as raised:
        new_step("bad").script("x = 1\ny = (2,\n").build()
    assert "step 'bad': script does not parse: line 2, column 8:" in str(raised.value)


def test_reserved_words_are_reported_where_they_stand():
    with pytest.raises(ValueError, match="line 2, column 1: cannot use reserved keyword `while`"):
        new_step("loop").script("x = 0\nwhile x < 3:\n    x += 1\n").build()
