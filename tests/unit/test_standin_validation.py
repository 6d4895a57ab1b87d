"""The stand-in's pure tables and helpers: Stripe's currencies, charge limits and test cards."""

from __future__ import annotations

import pytest

from harness.stripe_standin import cards, validation
from harness.stripe_standin.wire import StripeError


def test_every_currency_with_a_minimum_is_supported_and_lower_case() -> None:
    """The minimum table only names currencies Stripe supports; codes are lower-case ISO."""
    assert set(validation.MINIMUM_CHARGE) <= set(validation.SUPPORTED_CURRENCIES)
    assert all(c.islower() and c.isalpha() for c in validation.SUPPORTED_CURRENCIES)
    assert len(set(validation.SUPPORTED_CURRENCIES)) == len(validation.SUPPORTED_CURRENCIES)
    assert validation.SUPPORTED_CURRENCIES[0] == "usd"  # Stripe lists usd first


@pytest.mark.parametrize(("currency", "minimum"), [
    ("usd", 50), ("eur", 50), ("gbp", 30), ("jpy", 50), ("cad", 50), ("aud", 50), ("chf", 50),
    ("hkd", 400), ("huf", 17500), ("mxn", 1000), ("thb", 1000),
])
def test_minimums_follow_stripes_table(currency: str, minimum: int) -> None:
    """docs.stripe.com/currencies#minimum-and-maximum-charge-amounts, in minor units."""
    assert validation.MINIMUM_CHARGE[currency] == minimum
    validation.check_charge_amount(minimum, currency)
    with pytest.raises(StripeError) as info:
        validation.check_charge_amount(minimum - 1, currency)
    assert (info.value.code, info.value.param, info.value.status) == (
        "amount_too_small", "amount", 400)


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (50, "usd", "$0.50"), (30, "gbp", "£0.30"), (50, "jpy", "¥50"), (17500, "huf", "175.00"),
    (99_999_999, "usd", "$999,999.99"), (1000, "kwd", "1.000"), (5, "krw", "5"),
])
def test_format_amount_writes_major_units_as_stripe_does(
    amount: int, currency: str, shown: str
) -> None:
    """Zero-decimal currencies are whole units, three-decimal ones have three places."""
    assert validation.format_amount(amount, currency) == shown


def test_the_maximum_is_eight_digits_in_every_currency() -> None:
    """99999999 passes and 100000000 is amount_too_large, whatever the currency."""
    for currency in ("usd", "jpy", "isk"):
        validation.check_charge_amount(99_999_999, currency)
        with pytest.raises(StripeError) as info:
            validation.check_charge_amount(100_000_000, currency)
        assert info.value.code == "amount_too_large"


def test_check_currency_lower_cases_and_refuses_unknown_codes_without_a_code() -> None:
    """`EUR` is `eur`; `zzz` is Stripe's message listing every supported code, no `code`."""
    assert validation.check_currency("EUR") == "eur"
    with pytest.raises(StripeError) as info:
        validation.check_currency("zzz")
    body = info.value.body()["error"]
    assert body["param"] == "currency" and "code" not in body
    assert body["message"].endswith(", ".join(validation.SUPPORTED_CURRENCIES))


def test_every_declining_card_has_a_token_and_a_payment_method() -> None:
    """Each decline is reachable by `tok_…` (Charges) and `pm_card_…` (PaymentIntents)."""
    declines = {card.decline for card in cards.TEST_METHODS.values() if card.decline}
    for decline in declines:
        names = [n for n, c in cards.TEST_METHODS.items() if c.decline == decline]
        assert any(n.startswith("tok_") for n in names), decline
        assert any(n.startswith("pm_card_") for n in names), decline


@pytest.mark.parametrize(("name", "code", "decline_code", "param"), [
    ("tok_chargeDeclined", "card_declined", "generic_decline", None),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", None),
    ("tok_chargeDeclinedLostCard", "card_declined", "lost_card", None),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card", None),
    ("tok_chargeDeclinedExpiredCard", "expired_card", "expired_card", "exp_month"),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", "cvc"),
    ("tok_chargeDeclinedProcessingError", "processing_error", "processing_error", None),
    ("tok_visa_chargeDeclinedVelocityLimitExceeded", "card_declined", "card_velocity_exceeded",
     None),
    ("pm_card_radarBlock", "card_declined", "fraudulent", None),
])
def test_decline_error_carries_stripes_codes(
    name: str, code: str, decline_code: str, param: str | None
) -> None:
    """docs.stripe.com/testing#declined-payments: the 402 card_error's code, decline_code and
    param; the PaymentIntent form also carries the intent and the PaymentMethod."""
    card = cards.test_card(name, "source")
    failed = {"id": "ch_1", "payment_method": "pm_1"}
    body = cards.decline_error(failed, card).body()["error"]
    assert (body["type"], body["code"], body["decline_code"], body.get("param")) == (
        "card_error", code, decline_code, param)
    assert body["charge"] == "ch_1" and "payment_intent" not in body
    assert cards.failure_fields(card)["failure_code"] == code
    with_intent = cards.decline_error(failed, card, {"id": "pi_1"}).body()["error"]
    assert with_intent["payment_intent"] == {"id": "pi_1"}
    assert with_intent["payment_method"]["id"] == "pm_1"


def test_outcomes_distinguish_issuer_declines_from_radar_blocks() -> None:
    """An issuer decline reaches the network; Radar's block never does."""
    insufficient = cards.failure_fields(cards.TEST_METHODS["tok_chargeDeclinedInsufficientFunds"])
    assert insufficient["outcome"] == {
        "network_status": "declined_by_network", "reason": "insufficient_funds",
        "risk_level": "normal", "type": "issuer_declined",
        "seller_message": "The bank returned the decline code `insufficient_funds`."}
    blocked = cards.failure_fields(cards.TEST_METHODS["tok_radarBlock"])["outcome"]
    assert (blocked["type"], blocked["network_status"]) == ("blocked", "not_sent_to_network")
    paid = cards.failure_fields(cards.TEST_METHODS["tok_visa"])
    assert paid["failure_code"] is None and paid["outcome"]["type"] == "authorized"


def test_unknown_method_is_resource_missing_naming_the_param() -> None:
    """A name outside the table is Stripe's `resource_missing` for a token or PaymentMethod."""
    with pytest.raises(StripeError) as info:
        cards.test_card("pm_card_nope", "payment_method")
    assert info.value.code == "resource_missing" and info.value.param == "payment_method"
    assert "No such PaymentMethod: 'pm_card_nope'" in info.value.message
