"""Small flows the engine tests share."""

from __future__ import annotations

from flows.engine import Flow, new_flow, new_step


def one_step_flow(script: str, *, name: str = "one", timeout: float = 30, retries: int = 0) -> Flow:
    step = new_step(name).script(script).timeout(timeout).retries(retries).build()
    return new_flow(f"{name}_flow").add_step(step).build()


def chain_flow(count: int, script: str = "1", name: str = "chain") -> Flow:
    builder = new_flow(name)
    for index in range(count):
        builder.add_step(new_step(f"s{index}").script(script).build())
    return builder.build()
