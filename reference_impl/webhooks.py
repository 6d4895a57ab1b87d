"""The reference service's webhook route: verify the signature, hand the event to the variant."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import stripe

from reference_impl.responses import Reply

WEBHOOK_PATH = "/webhooks/stripe"
# Stripe's default tolerance: a signature more than 5 minutes old is refused (a replay).
TOLERANCE_S = 300

_log = logging.getLogger("reference_impl.webhooks")


class Receiver(Protocol):
    """What a variant offers the route: the events it wants and what it does with one."""

    webhook_events: tuple[str, ...]

    def on_event(self, event: dict[str, Any]) -> Reply: ...


def _refused(code: str, message: str) -> Reply:
    return 400, {"error": {"code": code, "message": message}}


def receive(variant: Receiver, payload: bytes, signature: str | None, secret: str) -> Reply:
    """Verify one delivery with the official SDK, as in production, then let the variant act.

    A bad signature is a 400 (Stripe retries it, and it shows in the ledger); the variant's
    answer decides whether the delivery counts as done (2xx) or is retried.
    """
    if not secret:
        return 404, {"error": {"code": "webhooks_off",
                               "message": "This service registered no webhook endpoint"}}
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature or "", secret, TOLERANCE_S
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        return _refused("bad_signature", str(exc))
    except (UnicodeDecodeError, ValueError) as exc:
        return _refused("bad_payload", f"Expected a JSON event ({exc})")
    if not isinstance(event, dict) or event.get("type") not in variant.webhook_events:
        return 200, {"received": True, "ignored": True}
    return variant.on_event(event)


def event_charge(event: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The payment an event's Charge was made for (its `metadata[payment_id]`), and the Charge."""
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict) or obj.get("object") != "charge":
        return None, {}
    payment_id = (obj.get("metadata") or {}).get("payment_id")
    return (str(payment_id) if payment_id else None), obj
