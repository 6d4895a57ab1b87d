"""Stripe object shapes (Charge, PaymentIntent, Refund) and the test payment methods they accept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.stripe_standin.wire import CARD_ERROR, StripeError, new_id


@dataclass(frozen=True)
class TestCard:
    """One of Stripe's documented test payment methods."""

    brand: str
    last4: str
    declines: bool


# Stripe's test tokens and PaymentMethods; both APIs accept both forms here, which Stripe's
# own test mode also tolerates for these shortcuts.
TEST_METHODS: dict[str, TestCard] = {
    "tok_visa": TestCard("visa", "4242", False),
    "pm_card_visa": TestCard("visa", "4242", False),
    "tok_mastercard": TestCard("mastercard", "4444", False),
    "pm_card_mastercard": TestCard("mastercard", "4444", False),
    "tok_chargeDeclined": TestCard("visa", "0002", True),
    "pm_card_chargeDeclined": TestCard("visa", "0002", True),
}


def test_card(method: str, param: str) -> TestCard:
    """The test card behind a token or PaymentMethod id, or Stripe's `resource_missing`."""
    card = TEST_METHODS.get(method)
    if card is None:
        noun = "token" if method.startswith("tok_") else "PaymentMethod"
        raise StripeError(
            400,
            f"No such {noun}: '{method}'. The stand-in accepts Stripe's test methods: "
            + ", ".join(sorted(TEST_METHODS)),
            code="resource_missing",
            param=param,
        )
    return card


def card_details(card: TestCard) -> dict[str, Any]:
    """The `payment_method_details` Stripe attaches to a card charge."""
    return {
        "type": "card",
        "card": {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": 12,
            "exp_year": 2034,
            "funding": "credit",
            "country": "US",
        },
    }


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
        "failure_code": "card_declined" if failed else None,
        "failure_message": "Your card was declined." if failed else None,
        "livemode": False,
        "metadata": metadata,
        "outcome": {
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": "generic_decline" if failed else None,
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline."
            if failed
            else "Payment complete.",
            "type": "issuer_declined" if failed else "authorized",
        },
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


def decline_error(charge: dict[str, Any], intent: dict[str, Any] | None = None) -> StripeError:
    """Stripe's 402 `card_error` / `card_declined` for a declined charge or PaymentIntent."""
    extra: dict[str, Any] = {"decline_code": "generic_decline", "charge": charge["id"]}
    if intent is not None:
        extra["payment_intent"] = intent
        extra["payment_method"] = {"id": charge["payment_method"], "object": "payment_method"}
    return StripeError(
        402, "Your card was declined.", type=CARD_ERROR, code="card_declined", extra=extra
    )
