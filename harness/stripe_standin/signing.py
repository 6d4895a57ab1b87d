"""Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """An endpoint signing secret in Stripe's form (`whsec_` and 32 random characters)."""
    return "whsec_" + secrets.token_hex(16)


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The header value Stripe sends; the SDKs key the HMAC with the whole secret string."""
    signed = str(timestamp).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
