"""The interface the runner uses to execute step scripts.

The Starlark WorkerPool implements it; another language (a Rhai worker speaking the same
protocol, say) would be another implementation of these three coroutines.
"""

from __future__ import annotations

from typing import Protocol

from flows.engine.sandbox.starlark_runtime import ScriptRequest, ScriptResult


class ScriptEngine(Protocol):
    async def start(self) -> None:
        """Get ready to run scripts (start worker processes)."""

    async def run(self, request: ScriptRequest) -> ScriptResult:
        """Run one script under its timeout; cancelling this stops the script for real."""

    async def close(self) -> None:
        """Stop every worker."""
