"""Stripe's amount and currency validation and its test cards, through the official stripe SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration

CURRENCIES_DOC = "https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts"
TESTING_DOC = "https://docs.stripe.com/testing#declined-payments"

# (card, `code`, `decline_code`, `outcome.type`) per https://docs.stripe.com/testing; each card by
# token on a Charge and by PaymentMethod on a PaymentIntent.
DECLINES = [
    ("chargeDeclined", "card_declined", "generic_decline", "issuer_declined"),
    ("chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", "issuer_declined"),
    ("chargeDeclinedLostCard", "card_declined", "lost_card", "issuer_declined"),
    ("chargeDeclinedStolenCard", "card_declined", "stolen_card", "issuer_declined"),
    ("chargeDeclinedExpiredCard", "expired_card", "expired_card", "issuer_declined"),
    ("chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", "issuer_declined"),
    ("chargeDeclinedProcessingError", "processing_error", "processing_error", "issuer_declined"),
    ("chargeDeclinedVelocityLimitExceeded", "card_declined", "card_velocity_exceeded",
     "issuer_declined"),
    ("chargeDeclinedFraudulent", "card_declined", "fraudulent", "blocked"),
    ("radarBlock", "card_declined", "fraudulent", "blocked"),
    ("chargeCustomerFail", "card_declined", "generic_decline", "issuer_declined"),
]


@pytest.fixture
def client(standin: str) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": standin},
                               max_network_retries=0)


def charge(client: stripe.StripeClient, amount: Any, currency: str = "usd",
           source: str = "tok_visa") -> stripe.Charge:
    return client.v1.charges.create(params={
        "amount": amount, "currency": currency, "source": source,
        "metadata": {"payment_id": "pay_v"}})


def intent(client: stripe.StripeClient, amount: Any, currency: str = "usd",
           method: str | None = "pm_card_visa") -> stripe.PaymentIntent:
    params: Any = {"amount": amount, "currency": currency, "metadata": {"payment_id": "pay_v"}}
    if method is not None:
        params |= {"payment_method": method, "confirm": True}
    return client.v1.payment_intents.create(params=params)


@pytest.mark.parametrize(("currency", "minimum", "shown"), [
    ("usd", 50, "$0.50 usd"), ("eur", 50, "€0.50 eur"), ("gbp", 30, "£0.30 gbp"),
    ("jpy", 50, "¥50 jpy"), ("huf", 17500, "175.00 huf"),
])
def test_amount_below_the_currency_minimum_is_amount_too_small(
    client: stripe.StripeClient, standin_admin: StandinAdmin, currency: str, minimum: int,
    shown: str,
) -> None:
    """Stripe's minimum charge amounts (docs.stripe.com/currencies#minimum-and-maximum-charge-
    amounts): one unit below is a 400 amount_too_small naming `amount`, on a Charge and on a
    PaymentIntent; the minimum itself is charged."""
    for create in (charge, intent):
        with pytest.raises(stripe.InvalidRequestError) as info:
            create(client, minimum - 1, currency)
        error = info.value.error
        assert info.value.http_status == 400 and info.value.code == "amount_too_small"
        assert error is not None and error.param == "amount"
        assert error.type == "invalid_request_error"
        assert error.message == f"Amount must be at least {shown}"
        assert error.doc_url == "https://stripe.com/docs/error-codes/amount-too-small"
        assert create(client, minimum, currency).amount == minimum
    assert len(standin_admin.charges("pay_v")) == 2  # only the two at the minimum


def test_payment_intent_below_the_minimum_is_refused_at_create_even_unconfirmed(
    client: stripe.StripeClient,
) -> None:
    """Stripe checks the amount when a PaymentIntent is created (docs.stripe.com/api/
    payment_intents/create: "The minimum amount is $0.50 US"), not only when it is confirmed."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        intent(client, 49, method=None)
    assert info.value.code == "amount_too_small"


def test_currency_outside_the_table_takes_any_positive_amount(client: stripe.StripeClient) -> None:
    """A supported currency without a row in Stripe's minimum table (docs.stripe.com/currencies:
    its minimum depends on the day's rate to the settlement currency) takes any positive amount;
    the stand-in decides so, see docs/CONTRACTS.md."""
    assert charge(client, 1, "isk").amount == 1


@pytest.mark.parametrize("create", [charge, intent])
def test_amount_above_eight_digits_is_amount_too_large(
    client: stripe.StripeClient, create: Any
) -> None:
    """Stripe's API reference for `amount`: "supports up to eight digits (e.g., a value of
    99999999 for a USD charge of $999,999.99)"; one more is a 400 amount_too_large."""
    assert create(client, 99_999_999).amount == 99_999_999
    with pytest.raises(stripe.InvalidRequestError) as info:
        create(client, 100_000_000)
    assert info.value.code == "amount_too_large" and info.value.param == "amount"
    assert str(info.value.error.message) == "Amount must be no more than $999,999.99"


@pytest.mark.parametrize("create", [charge, intent])
@pytest.mark.parametrize("currency", ["zzz", "dollars", "US"])
def test_unsupported_currency_is_stripes_invalid_currency(
    client: stripe.StripeClient, create: Any, currency: str
) -> None:
    """Stripe's answer for an unknown currency (docs.stripe.com/currencies "Supported
    presentment currencies"): 400 invalid_request_error naming `currency`, listing the codes."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        create(client, 1000, currency)
    error = info.value.error
    assert error is not None and error.param == "currency"
    assert error.message is not None and error.message.startswith(
        f"Invalid currency: {currency.lower()}. Stripe currently supports these currencies: "
        "usd, aed, afn,")
    assert info.value.code is None  # Stripe sends no code for this one


def test_upper_case_currency_is_accepted_and_lower_cased(client: stripe.StripeClient) -> None:
    """Stripe returns currencies lower-cased (docs.stripe.com/currencies: ISO codes in lower
    case); the stand-in takes `EUR` as `eur` as it always did."""
    assert charge(client, 1000, "EUR").currency == "eur"


@pytest.mark.parametrize("create", [charge, intent])
@pytest.mark.parametrize("amount", [12.5, "abc"])
def test_non_integer_amount_is_parameter_invalid_integer(
    client: stripe.StripeClient, create: Any, amount: Any
) -> None:
    """Stripe's 400 for `amount=12.5` or `abc` (docs.stripe.com/error-codes#parameter-invalid-
    integer): code parameter_invalid_integer, param `amount`, "Invalid integer: 12.5"."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        create(client, amount)
    assert info.value.code == "parameter_invalid_integer" and info.value.param == "amount"
    assert str(info.value.error.message) == f"Invalid integer: {amount}"


def test_a_refund_below_the_charge_minimum_is_allowed(client: stripe.StripeClient) -> None:
    """Stripe's minimum is for charges (docs.stripe.com/currencies); a partial refund of any
    positive amount up to what is left is accepted (docs.stripe.com/refunds)."""
    paid = charge(client, 1000)
    assert client.v1.refunds.create(params={"charge": paid.id, "amount": 1}).amount == 1
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": paid.id, "amount": "1.5"})
    assert info.value.code == "parameter_invalid_integer"


@pytest.mark.parametrize(("stem", "code", "decline_code", "outcome_type"), DECLINES)
def test_test_card_by_token_declines_a_charge_with_stripes_codes(
    client: stripe.StripeClient, standin_admin: StandinAdmin, stem: str, code: str,
    decline_code: str, outcome_type: str,
) -> None:
    """docs.stripe.com/testing#declined-payments, by token: a 402 stripe.CardError with the
    card's `code` and `decline_code`; the failed Charge keeps failure_code, failure_message and
    outcome; no money moves (no `charge` ledger entry)."""
    with pytest.raises(stripe.CardError) as info:
        charge(client, 1000, source=f"tok_{stem}")
    err = info.value
    assert err.http_status == 402 and err.code == code
    assert err.error is not None and err.error.decline_code == decline_code
    assert err.error.type == "card_error"
    assert err.error.doc_url == f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    failed = client.v1.charges.retrieve(str(err.error.charge))
    assert (failed.status, failed.paid, failed.captured) == ("failed", False, False)
    assert failed.failure_code == code and failed.failure_message == err.error.message
    assert failed.outcome is not None and failed.outcome.type == outcome_type
    if outcome_type == "issuer_declined":
        assert failed.outcome.reason == decline_code
        assert failed.outcome.network_status == "declined_by_network"
    else:
        assert failed.outcome.network_status == "not_sent_to_network"
    assert standin_admin.charges() == []
    assert standin_admin.ledger_entries("request")[0]["status"] == 402


@pytest.mark.parametrize(("stem", "code", "decline_code", "outcome_type"), DECLINES)
def test_test_card_by_payment_method_declines_a_payment_intent(
    client: stripe.StripeClient, standin_admin: StandinAdmin, stem: str, code: str,
    decline_code: str, outcome_type: str,
) -> None:
    """docs.stripe.com/testing#declined-payments, by PaymentMethod (`pm_card_…`) with
    confirm=true: stripe.CardError with the card's codes and the PaymentIntent in the error,
    which is back in requires_payment_method with `last_payment_error` set
    (docs.stripe.com/payments/paymentintents/lifecycle)."""
    with pytest.raises(stripe.CardError) as info:
        intent(client, 1000, method=f"pm_card_{stem}")
    err = info.value
    assert err.code == code and err.error is not None and err.error.decline_code == decline_code
    failed = err.error.payment_intent
    assert failed is not None and failed.status == "requires_payment_method"
    assert err.error.payment_method is not None
    assert str(err.error.payment_method.id).startswith("pm_")
    fetched = client.v1.payment_intents.retrieve(str(failed.id))
    last = fetched.last_payment_error
    assert fetched.status == "requires_payment_method" and last is not None
    assert (last.code, last.decline_code, last.type) == (code, decline_code, "card_error")
    assert last.message == err.error.message and last.charge == fetched.latest_charge
    assert standin_admin.charges() == []


@pytest.mark.parametrize("method", [
    "pm_card_visa_chargeDeclinedInsufficientFunds", "tok_visa_chargeDeclinedInsufficientFunds",
    "tok_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclinedInsufficientFunds",
])
def test_both_spellings_of_a_card_through_payment_intent_confirm(
    client: stripe.StripeClient, method: str
) -> None:
    """docs.stripe.com/testing lists `pm_card_visa_chargeDeclined…` and older integrations use
    `…_chargeDeclined…`: each declines through a separate confirm call, and a good method then
    succeeds on the same PaymentIntent."""
    created = intent(client, 2000, method=None)
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.confirm(created.id, params={"payment_method": method})
    assert info.value.error is not None
    assert info.value.error.decline_code == "insufficient_funds"
    paid = client.v1.payment_intents.confirm(created.id, params={"payment_method": "pm_card_visa"})
    # "It will be cleared if the PaymentIntent is later updated" (API reference).
    assert paid.status == "succeeded" and paid.last_payment_error is None
