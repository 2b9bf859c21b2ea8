"""Signed webhook requests, in the scheme of Stripe's: a header
`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the shared secret>`.

Signing the timestamp with the body lets a receiver refuse a request replayed later: one whose
timestamp is further from now than the trigger's tolerance. Several `v1=` values may be sent
(a sender changing secrets signs with both); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac


def signature_problem(
    header: str | None, secret: str, body: bytes, tolerance_seconds: int, now: float
) -> str | None:
    """Why the signature header does not vouch for the body at time `now`, or None if it does."""
    if not header:
        return "the request is not signed"
    fields = [part.strip().partition("=") for part in header.split(",")]
    timestamps = [value for name, _, value in fields if name == "t"]
    signatures = [value for name, _, value in fields if name == "v1"]
    if len(timestamps) != 1 or not _is_unix_time(timestamps[0]) or not signatures:
        return "the signature must read t=<unix seconds>,v1=<hex HMAC-SHA256>"
    if abs(now - int(timestamps[0])) > tolerance_seconds:
        return f"the signature's timestamp is more than {tolerance_seconds} seconds from now"
    expected = _hmac(secret, timestamps[0], body).encode()
    if not any(hmac.compare_digest(expected, sent.lower().encode()) for sent in signatures):
        return "the signature does not match the body"
    return None


def _is_unix_time(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 12


def _hmac(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
