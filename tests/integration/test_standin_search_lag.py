"""Search lag through the official stripe SDK: new objects reach search only after a while.

Stripe: "search results can lag behind writes by up to a minute"
(https://docs.stripe.com/search#data-freshness). Retrieve and list never lag.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin, running_standin

pytestmark = pytest.mark.integration
QUERY = "metadata['payment_id']:'pay_lag'"


@pytest.fixture
def client(standin: str) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": standin},
                               max_network_retries=0)


def charge_params(payment_id: str = "pay_lag") -> Any:
    return {"amount": 1000, "currency": "usd", "source": "tok_visa",
            "metadata": {"payment_id": payment_id}}


def found(client: stripe.StripeClient, query: str = QUERY) -> list[str]:
    return [c.id for c in client.v1.charges.search(params={"query": query}).data]


def test_a_lagged_charge_is_retrievable_and_listed_at_once_but_searchable_only_later(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """A search_lag rule on the money-moving request hides its Charge from search for `ms` of
    the stand-in's clock (https://docs.stripe.com/search#data-freshness); retrieve and list see
    it at once, and the ledger's request entry names the fault."""
    standin_admin.arm([{"action": "search_lag", "ms": 60_000, "payment_id": "pay_lag",
                        "money": True, "count": 1}])
    charge = client.v1.charges.create(params=charge_params(), options={"idempotency_key": "k1"})
    assert client.v1.charges.retrieve(charge.id).id == charge.id
    assert [c.id for c in client.v1.charges.list().data] == [charge.id]
    assert found(client) == []
    # A replay executes nothing: it neither lags anew nor reveals the charge early.
    replay = client.v1.charges.create(params=charge_params(), options={"idempotency_key": "k1"})
    assert replay.id == charge.id and found(client) == []
    other = client.v1.charges.create(params=charge_params("pay_other"))  # not matched: no lag
    assert found(client, "metadata['payment_id']:'pay_other'") == [other.id]
    faults = [e["fault"] for e in standin_admin.ledger_entries("request") if e["method"] == "POST"]
    assert faults == ["search_lag", None, None]
    standin_admin.advance_clock(59)
    assert found(client) == []
    standin_admin.advance_clock(1)
    assert found(client) == [charge.id]


def test_payment_intent_search_lags_its_create_and_shows_the_old_status_after_a_confirm(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """`GET /v1/payment_intents/search` speaks the charges search subset; under a lag a new
    PaymentIntent is absent and a confirmed one still shows its status before the confirm
    (https://docs.stripe.com/search#data-freshness)."""
    intent = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "metadata": {"payment_id": "pay_pi"}})
    query = "metadata['payment_id']:'pay_pi' AND status:'succeeded'"
    assert client.v1.payment_intents.search(params={"query": query}).data == []
    standin_admin.arm([{"action": "search_lag", "ms": 30_000, "money": True}])
    confirmed = client.v1.payment_intents.confirm(intent.id, params={
        "payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    any_status = client.v1.payment_intents.search(
        params={"query": "metadata['payment_id']:'pay_pi'"}).data
    assert [(i.id, i.status) for i in any_status] == [(intent.id, "requires_payment_method")]
    assert client.v1.payment_intents.search(params={"query": query}).data == []
    standin_admin.advance_clock(30)
    [hit] = client.v1.payment_intents.search(params={"query": query}).data
    assert hit.id == intent.id and hit.status == "succeeded"


def test_search_lag_ms_option_lags_every_new_object() -> None:
    """`payrace stand-in --search-lag-ms N`: every write lags, with no rule armed and no fault
    in the ledger (https://docs.stripe.com/search#data-freshness)."""
    with running_standin(search_lag_ms=10_000) as url, StandinAdmin(url) as admin:
        client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": url},
                                     max_network_retries=0)
        charge = client.v1.charges.create(params=charge_params())
        assert found(client) == [] and client.v1.charges.retrieve(charge.id).id == charge.id
        assert [e["fault"] for e in admin.ledger_entries("request")] == [None, None, None]
        admin.advance_clock(10)
        assert found(client) == [charge.id]
