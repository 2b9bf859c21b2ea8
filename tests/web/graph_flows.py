"""The flow the graph tests draw and run."""

from __future__ import annotations

from flows import new_flow, new_step
from flows.engine.builder import Flow


def diamond(middle: str = "b", a_script: str = "1", middle_script: str = "2") -> Flow:
    """a → (middle, c) → d, with c's condition false: c is skipped and d still runs."""
    return (
        new_flow("diamond")
        .add_step(new_step("a").script(a_script).build())
        .add_step(new_step(middle).script(middle_script).after("a").build())
        .add_step(new_step("c").script("3").after("a").when("False").build())
        .add_step(new_step("d").script("4").after(middle, "c").build())
        .build()
    )
