"""A persistent sandbox worker: reads script requests as JSON lines on stdin, answers on stdout.

Started by the WorkerPool, never by hand. Its address space is capped, so a memory bomb kills
only this process; the pool notices, reports the attempt as failed and starts a new worker.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

from flows.engine.parent_death import die_with_parent
from flows.engine.sandbox.limits import MAX_ERROR_BYTES, MEMORY_MB
from flows.engine.sandbox.starlark_runtime import (
    ScriptRequest,
    ScriptResult,
    cap_text,
    run_script,
)
from flows.engine.sandbox.syntax import ScriptError


def _cap_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(requests, answers, memory_mb: int) -> None:
    for line in requests:
        result = _run_guarded(ScriptRequest(**json.loads(line)), memory_mb)
        # As UTF-8, as the caps measure it (escaping all else could triple an answer's size).
        answer = json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
        answers.write(answer.encode(errors="replace"))
        answers.flush()
        if result.fatal:
            return


def _run_guarded(request: ScriptRequest, memory_mb: int) -> ScriptResult:
    """Starlark panics (out of memory above all) surface as pyo3's PanicException, a
    BaseException: report them as the attempt's error, then let this worker be replaced."""
    try:
        return run_script(request)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        if "out of memory" in str(error):
            message = f"script ran out of memory (limit {memory_mb} MiB)"
        else:
            message = cap_text(f"script engine failed: {error}", MAX_ERROR_BYTES)
        return ScriptResult(error=ScriptError(message), fatal=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mb", type=int, default=MEMORY_MB)
    arguments = parser.parse_args()
    # Keep the protocol channel to ourselves: anything else printing goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # If the runner is SIGKILLed, take this worker down with it instead of orphaning it
    # (elsewhere than Linux, the worker still exits when its stdin closes).
    die_with_parent()
    _cap_memory(arguments.memory_mb)
    serve(sys.stdin, answers, arguments.memory_mb)


if __name__ == "__main__":
    main()
