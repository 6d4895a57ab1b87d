"""Charges, PaymentIntents and Refunds through the official stripe SDK, and their ledger."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration


@pytest.fixture
def client(standin: str) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": standin},
                               max_network_retries=0)


def charge_params(payment_id: str, amount: int = 1000, source: str = "tok_visa") -> Any:
    return {"amount": amount, "currency": "usd", "source": source,
            "metadata": {"payment_id": payment_id}}


def test_charge_create_and_retrieve(client: stripe.StripeClient) -> None:
    """A Charge has Stripe's shape (ch_ id, succeeded, metadata) and can be retrieved by id."""
    created = client.v1.charges.create(params=charge_params("pay_1", amount=1234))
    assert created.id.startswith("ch_") and created.object == "charge"
    assert (created.status, created.paid, created.amount, created.currency) == (
        "succeeded", True, 1234, "usd")
    assert created.metadata["payment_id"] == "pay_1"
    fetched = client.v1.charges.retrieve(created.id)
    assert fetched.id == created.id and fetched.amount == 1234


def test_charge_ledger_entry_has_the_contract_fields(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """One charge writes one `charge` entry and one `request` entry with every contract field."""
    created = client.v1.charges.create(params=charge_params("pay_2"),
                                       options={"idempotency_key": "kk"})
    [money] = standin_admin.ledger_entries("charge")
    assert money["object"] == "charge" and money["id"] == created.id
    assert (money["amount"], money["currency"], money["payment_id"]) == (1000, "usd", "pay_2")
    assert money["idempotency_key"] == "kk" and money["status"] == "succeeded"
    [request] = standin_admin.ledger_entries("request")
    assert set(request) == {"seq", "kind", "time", "wall", "method", "path", "idempotency_key",
                            "params_digest", "status", "replayed", "request_id", "fault",
                            "payment_id", "api_key"}
    assert request["request_id"] == created.last_response.request_id == money["request_id"]
    assert len(request["params_digest"]) == 64 and request["api_key"] == TEST_API_KEY


def test_retrieving_an_unknown_charge_is_resource_missing(client: stripe.StripeClient) -> None:
    """GET /v1/charges/ch_nope is Stripe's 404 resource_missing."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.retrieve("ch_nope")
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_charges_search_by_payment_id(client: stripe.StripeClient) -> None:
    """The SDK's charges.search finds the charges of one payment by metadata, newest first."""
    first = client.v1.charges.create(params=charge_params("pay_s"))
    client.v1.charges.create(params=charge_params("pay_other"))
    second = client.v1.charges.create(params=charge_params("pay_s", amount=50))
    found = client.v1.charges.search(params={"query": "metadata['payment_id']:'pay_s'"})
    assert found.object == "search_result"
    assert [c.id for c in found.data] == [second.id, first.id]
    narrowed = client.v1.charges.search(
        params={"query": "metadata['payment_id']:'pay_s' AND amount:50"})
    assert [c.id for c in narrowed.data] == [second.id]


def test_unsupported_search_query_names_the_query_param(client: stripe.StripeClient) -> None:
    """A query outside the supported grammar is a 400 naming `query`."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.search(params={"query": "email~'x'"})
    assert info.value.param == "query"


def test_declined_charge_is_a_card_error_and_no_money_moves(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """tok_chargeDeclined: 402 card_error/card_declined; a request entry, no charge entry."""
    with pytest.raises(stripe.CardError) as info:
        client.v1.charges.create(params=charge_params("pay_d", source="tok_chargeDeclined"))
    assert info.value.http_status == 402 and info.value.code == "card_declined"
    assert info.value.json_body["error"]["type"] == "card_error"
    assert info.value.json_body["error"]["decline_code"] == "generic_decline"
    assert standin_admin.charges() == []
    [request] = standin_admin.ledger_entries("request")
    assert request["status"] == 402


def test_payment_intent_create_and_confirm_in_one_call(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """confirm=true with pm_card_visa succeeds at once and writes one payment_intent movement."""
    intent = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
        "metadata": {"payment_id": "pay_pi"}})
    assert intent.id.startswith("pi_") and intent.status == "succeeded"
    assert intent.latest_charge and intent.amount_received == 700
    [money] = standin_admin.charges("pay_pi")
    assert money["object"] == "payment_intent" and money["id"] == intent.id
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_payment_intent_confirm_endpoint_and_its_fault_matching(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """Create, then confirm: the confirm matches faults by the PaymentIntent's payment_id."""
    intent = client.v1.payment_intents.create(params={
        "amount": 300, "currency": "usd", "metadata": {"payment_id": "pay_cf"}})
    assert intent.status == "requires_payment_method"
    standin_admin.arm([{"action": "error_before", "path": "/v1/payment_intents",
                        "payment_id": "pay_cf", "count": 1}])
    with pytest.raises(stripe.APIError):
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    confirmed = client.v1.payment_intents.confirm(intent.id,
                                                  params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert len(standin_admin.charges("pay_cf")) == 1
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.confirm(intent.id)
    assert info.value.code == "payment_intent_unexpected_state"


def test_declined_payment_intent(client: stripe.StripeClient, standin_admin: StandinAdmin) -> None:
    """pm_card_chargeDeclined: 402 card_declined, the intent back to requires_payment_method."""
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(params={
            "amount": 300, "currency": "usd", "payment_method": "pm_card_chargeDeclined",
            "confirm": True, "metadata": {"payment_id": "pay_pd"}})
    assert info.value.code == "card_declined"
    intent = info.value.json_body["error"]["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert standin_admin.charges() == []


def test_a_declined_payment_intent_needs_a_new_method_to_confirm_again(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """As at Stripe, the declined method is detached: confirming again without one is a 400
    naming payment_method, not a lookup error about a generated id; a new method succeeds."""
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(params={
            "amount": 300, "currency": "usd", "payment_method": "pm_card_chargeDeclined",
            "confirm": True, "metadata": {"payment_id": "pay_again"}})
    intent_id = info.value.json_body["error"]["payment_intent"]["id"]
    assert client.v1.payment_intents.retrieve(intent_id).payment_method is None
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.confirm(intent_id)
    assert again.value.code == "payment_intent_unexpected_state"
    assert again.value.json_body["error"]["param"] == "payment_method"
    retried = client.v1.payment_intents.confirm(
        intent_id, params={"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded"
    assert [c["payment_id"] for c in standin_admin.charges()] == ["pay_again"]


def test_refunds_never_exceed_what_was_charged(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """Partial refund, then the rest; more than the remainder or a second full refund is a 400."""
    charge = client.v1.charges.create(params=charge_params("pay_rf", amount=1000))
    partial = client.v1.refunds.create(params={"charge": charge.id, "amount": 400})
    assert partial.id.startswith("re_") and partial.amount == 400
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 601})
    assert too_much.value.code == "amount_too_large" and too_much.value.param == "amount"
    rest = client.v1.refunds.create(params={"charge": charge.id})
    assert rest.amount == 600
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"charge": charge.id})
    assert again.value.code == "charge_already_refunded"
    after = client.v1.charges.retrieve(charge.id)
    assert after.refunded and after.amount_refunded == 1000
    refunds = standin_admin.ledger_entries("refund")
    assert [(r["amount"], r["payment_id"]) for r in refunds] == [(400, "pay_rf"), (600, "pay_rf")]


def test_refund_by_payment_intent(client: stripe.StripeClient) -> None:
    """A refund may name the PaymentIntent instead of the charge."""
    intent = client.v1.payment_intents.create(params={
        "amount": 900, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    refund = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refund.amount == 900 and refund.payment_intent == intent.id
