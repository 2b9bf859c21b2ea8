"""Every limit a step script runs under, in one place: the sandbox worker's memory, the caps
on what an attempt may answer, and the caps on its outbound HTTP.

The caps on an answer are in bytes of UTF-8 (the output's and the logs' as JSON): together they
keep a worker's answer well inside the pipe's limit, and a step's hash small.
"""

from __future__ import annotations

# The address space of a sandbox worker process (RLIMIT_AS): a memory bomb kills only the
# worker, and the attempt fails saying so.
MEMORY_MB = 256
# A worker stops a script cooperatively at its deadline; killing it after this is the backstop.
KILL_GRACE_SECONDS = 0.5
# The longest answer a worker may give; the caps below keep answers well below it.
PIPE_LIMIT_BYTES = 16 * 1024 * 1024

MAX_OUTPUT_BYTES = 1024 * 1024
MAX_LOG_LINES = 1000
MAX_LOG_LINE_BYTES = 4000
MAX_LOG_BYTES = 4 * 1024 * 1024
MAX_ERROR_BYTES = 4000

# The largest HTTP response body a script may read, unless the site says (FLOWS_HTTP_MAX_BYTES).
HTTP_DEFAULT_MAX_BYTES = 5 * 1024 * 1024
# A request's timeout unless the script gives a shorter one; never past the step's deadline.
HTTP_DEFAULT_TIMEOUT_SECONDS = 30.0
HTTP_MAX_REQUESTS_PER_ATTEMPT = 100
HTTP_MAX_REDIRECTS = 5
