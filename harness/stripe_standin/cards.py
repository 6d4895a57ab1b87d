"""Stripe's test cards (tokens and PaymentMethods), their declines and the errors they raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.stripe_standin.wire import CARD_ERROR, StripeError


@dataclass(frozen=True)
class Decline:
    """How a declining test card fails, in the words of Stripe's error and Charge `outcome`."""

    code: str  # the error's `code` and the Charge's `failure_code`
    decline_code: str  # the error's `decline_code` and, unless blocked, the outcome's `reason`
    message: str  # the error's `message` and the Charge's `failure_message`
    param: str | None = None  # Stripe names the card field at fault for expiry and CVC
    blocked: bool = False  # refused by Radar before the network, not by the issuer

    def outcome(self) -> dict[str, Any]:
        """The Charge's `outcome` for this decline, as Stripe fills it."""
        if self.blocked:
            return {
                "network_status": "not_sent_to_network",
                "reason": "highest_risk_level",
                "risk_level": "highest",
                "seller_message": "Stripe blocked this payment as too risky.",
                "type": "blocked",
            }
        seller = (
            "The bank did not return any further details with this decline."
            if self.decline_code == "generic_decline"
            else f"The bank returned the decline code `{self.decline_code}`."
        )
        return {
            "network_status": "declined_by_network",
            "reason": self.decline_code,
            "risk_level": "normal",
            "seller_message": seller,
            "type": "issuer_declined",
        }


@dataclass(frozen=True)
class TestCard:
    """One of Stripe's documented test payment methods; `decline` is None when it pays."""

    brand: str
    last4: str
    decline: Decline | None = None

    @property
    def declines(self) -> bool:
        return self.decline is not None


_DECLINED = "Your card was declined."

# https://docs.stripe.com/testing#declined-payments: for most declines the `code` is
# card_declined and the reason is in `decline_code`; expired card, incorrect CVC and processing
# error carry the reason in `code` itself (and Stripe repeats it in `decline_code`).
GENERIC = Decline("card_declined", "generic_decline", _DECLINED)
INSUFFICIENT_FUNDS = Decline("card_declined", "insufficient_funds",
                             "Your card has insufficient funds.")
LOST_CARD = Decline("card_declined", "lost_card", _DECLINED)
STOLEN_CARD = Decline("card_declined", "stolen_card", _DECLINED)
VELOCITY = Decline(
    "card_declined", "card_velocity_exceeded",
    "Your card was declined for making repeated attempts too frequently or exceeding its "
    "amount limit.",
)
EXPIRED_CARD = Decline("expired_card", "expired_card", "Your card has expired.",
                       param="exp_month")
INCORRECT_CVC = Decline("incorrect_cvc", "incorrect_cvc",
                        "Your card's security code is incorrect.", param="cvc")
PROCESSING_ERROR = Decline(
    "processing_error", "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
)
# 4100 0000 0000 0019: Radar blocks it as highest risk (https://docs.stripe.com/testing#fraud-prevention).
FRAUDULENT = Decline("card_declined", "fraudulent", _DECLINED, blocked=True)


def _names(stem: str, *, visa_alias: bool = False) -> tuple[str, ...]:
    """The token and PaymentMethod names of one test card; Stripe's docs spell the newer ones
    `…_visa_chargeDeclined…` and older code `…_chargeDeclined…`, and test mode takes both."""
    names = (f"tok_{stem}", f"pm_card_{stem}")
    return names + ((f"tok_visa_{stem}", f"pm_card_visa_{stem}") if visa_alias else ())


_CARDS: tuple[tuple[tuple[str, ...], TestCard], ...] = (
    (("tok_visa", "pm_card_visa"), TestCard("visa", "4242")),
    (("tok_mastercard", "pm_card_mastercard"), TestCard("mastercard", "4444")),
    (_names("chargeDeclined", visa_alias=True), TestCard("visa", "0002", GENERIC)),
    (_names("chargeDeclinedInsufficientFunds", visa_alias=True),
     TestCard("visa", "9995", INSUFFICIENT_FUNDS)),
    (_names("chargeDeclinedLostCard", visa_alias=True), TestCard("visa", "9987", LOST_CARD)),
    (_names("chargeDeclinedStolenCard", visa_alias=True), TestCard("visa", "9979", STOLEN_CARD)),
    (_names("chargeDeclinedVelocityLimitExceeded", visa_alias=True),
     TestCard("visa", "6975", VELOCITY)),
    (_names("chargeDeclinedExpiredCard"), TestCard("visa", "0069", EXPIRED_CARD)),
    (_names("chargeDeclinedIncorrectCvc"), TestCard("visa", "0127", INCORRECT_CVC)),
    (_names("chargeDeclinedProcessingError"), TestCard("visa", "0119", PROCESSING_ERROR)),
    (_names("chargeDeclinedFraudulent") + _names("radarBlock"),
     TestCard("visa", "0019", FRAUDULENT)),
    # At Stripe this card attaches to a Customer and then every charge fails; the stand-in has
    # no Customers, so every charge with it fails the same way.
    (_names("chargeCustomerFail"), TestCard("visa", "0341", GENERIC)),
)

# Every accepted name; both APIs take both forms here, which Stripe's own test mode also
# tolerates for these shortcuts.
TEST_METHODS: dict[str, TestCard] = {name: card for names, card in _CARDS for name in names}


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


def failure_fields(card: TestCard) -> dict[str, Any]:
    """A Charge's `failure_code`, `failure_message` and `outcome` for this card."""
    if card.decline is None:
        return {
            "failure_code": None,
            "failure_message": None,
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
        }
    return {
        "failure_code": card.decline.code,
        "failure_message": card.decline.message,
        "outcome": card.decline.outcome(),
    }


def decline_error(
    charge: dict[str, Any], card: TestCard, intent: dict[str, Any] | None = None
) -> StripeError:
    """Stripe's 402 `card_error` for a declined charge, or PaymentIntent (then carrying it)."""
    decline = card.decline or GENERIC
    extra: dict[str, Any] = {"decline_code": decline.decline_code, "charge": charge["id"]}
    if intent is not None:
        extra["payment_intent"] = intent
        extra["payment_method"] = payment_method_object(charge["payment_method"], card)
    return StripeError(402, decline.message, type=CARD_ERROR, code=decline.code,
                       param=decline.param, extra=extra)


def payment_method_object(method_id: str, card: TestCard) -> dict[str, Any]:
    """The PaymentMethod Stripe embeds in a PaymentIntent's card error."""
    return {"id": method_id, "object": "payment_method", **card_details(card)}
