"""Stripe object shapes: Charge, PaymentIntent, Refund (the test cards are in cards.py)."""

from __future__ import annotations

from typing import Any

from harness.stripe_standin.cards import TestCard, card_details, failure_fields
from harness.stripe_standin.wire import new_id


def charge_object(
    *,
    amount: int,
    currency: str,
    card: TestCard,
    metadata: dict[str, str],
    created: int,
    description: str | None,
    payment_intent: str | None,
    payment_method: str,
) -> dict[str, Any]:
    """A Charge as Stripe returns it: succeeded, or failed with the decline reason."""
    charge_id = new_id("ch")
    failed = card.declines
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0 if failed else amount,
        "amount_refunded": 0,
        "balance_transaction": None if failed else new_id("txn"),
        "captured": not failed,
        "created": created,
        "currency": currency,
        "description": description,
        **failure_fields(card),  # failure_code, failure_message, outcome
        "livemode": False,
        "metadata": metadata,
        "paid": not failed,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "payment_method_details": card_details(card),
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "status": "failed" if failed else "succeeded",
    }


def payment_intent_object(
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    created: int,
    description: str | None,
    payment_method: str | None,
) -> dict[str, Any]:
    """A new PaymentIntent, before any confirmation."""
    intent_id = new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('s')[2:]}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
    }


def refund_object(
    *, amount: int, charge: dict[str, Any], created: int, metadata: dict[str, str],
    reason: str | None,
) -> dict[str, Any]:
    """A succeeded Refund of (part of) a charge."""
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "succeeded",
    }
