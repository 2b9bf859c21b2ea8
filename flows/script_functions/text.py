"""Text helpers for step scripts, as `text.<name>(...)`: what Starlark lacks for talking to APIs
(hashes and signatures, base64, URL-safe names). The example of a script function module."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

from flows.engine.script_functions import script_function


@script_function
def slugify(value: str, separator: str = "-") -> str:
    """Lower-case ASCII words joined by the separator: "Crème Brûlée!" -> "creme-brulee"."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return separator.join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


@script_function
def sha256(value: str) -> str:
    """The SHA-256 digest of the text (UTF-8), in hex."""
    return hashlib.sha256(value.encode()).hexdigest()


@script_function
def hmac_sha256(key: str, message: str) -> str:
    """The HMAC-SHA256 of the message under the key, in hex: webhook signatures, e.g.
    Stripe's `t=...,v1=` is text.hmac_sha256(secret("STRIPE_WEBHOOK_KEY"), t + "." + body)."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


@script_function
def base64_encode(value: str) -> str:
    """The text (UTF-8) in standard base64, e.g. for an HTTP Basic Authorization header."""
    return base64.b64encode(value.encode()).decode()


@script_function
def base64_decode(value: str) -> str:
    """Standard base64 back to text (UTF-8)."""
    return base64.b64decode(value, validate=True).decode()
