"""Error signatures: what is left of an error message once the parts that differ from one run
to the next (numbers, ids, hex and uuids, quoted values) are replaced by placeholders.

Two runs whose step failed for the same reason then have the same signature, so the failure
inbox groups them, however their inputs differed. Pure Python, no Django: the archiver calls it
for every failed run it saves, and it is unit-tested on its own.
"""

from __future__ import annotations

import hashlib
import re

# Longer messages are cut before they are normalised: the engine keeps 4,000 bytes of an error
# anyway, and the start of a message says what went wrong.
MAX_MESSAGE = 4000

# Quoted values, in single, double or back quotes, escapes included, within one line. A single
# quote after a letter is an apostrophe (can't, isn't), not the start of a value.
_QUOTED = re.compile(r"""(?<![A-Za-z])'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`[^`\n]*`""")
# A quoted name followed by a colon is a key ({"error": ...}): the message's shape, kept.
_KEY_FOLLOWS = re.compile(r"\s*:")

# Applied in order, after the quoted values: each pattern sees the placeholders of those before
# it, never the text they replaced (a quoted uuid is one quoted value, not a uuid in quotes).
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # Prefixed ids (cus_NffrFeUfNV2Hib, pi_3MtwBwLkdIwHu7ix, order-1042): the prefix says what
    # kind of thing was missing, so it stays.
    (re.compile(r"\b([A-Za-z]+[_-])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]+\b"), r"\1<id>"),
    # Hex digests and other long runs of letters and digits with a digit among them.
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I), "<id>"),
    (re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{16,}\b"), "<id>"),
    # Numbers, with a sign, decimals, an exponent.
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.I), "<n>"),
    (re.compile(r"\d+"), "<n>"),  # digits inside words: attempt3, 500ms
    (re.compile(r"\s+"), " "),
]


def normalise(error: str) -> str:
    """The error with its run-specific parts replaced by placeholders, on one line."""
    text = _QUOTED.sub(_quoted_value, error[:MAX_MESSAGE])
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text.strip()


def _quoted_value(match: re.Match[str]) -> str:
    if _KEY_FOLLOWS.match(match.string, match.end()):
        return match.group()
    quote = match.group()[0]
    return f"{quote}<value>{quote}"


def error_signature(error: str) -> str:
    """A short, fixed-length key for the normalised error ('' for no error): what the archive
    stores and indexes, since a normalised message can be too long for an index entry."""
    if not error.strip():
        return ""
    return hashlib.sha256(normalise(error).encode()).hexdigest()[:32]
