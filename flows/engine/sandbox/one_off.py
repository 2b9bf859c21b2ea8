"""Run a single script in the same sandbox the runner uses, without creating a run.

For the builder's "Test step" and fix-and-resume previews: a fresh one-worker pool, so a
runaway test script can never touch the workers that run real steps.
"""

from __future__ import annotations

from flows.engine.sandbox.pool import WorkerPool
from flows.engine.sandbox.starlark_runtime import ScriptRequest, ScriptResult


async def run_once(request: ScriptRequest, script_modules: tuple[str, ...] = ()) -> ScriptResult:
    pool = WorkerPool(1, script_modules=script_modules)
    try:
        return await pool.run(request)
    finally:
        await pool.close()
