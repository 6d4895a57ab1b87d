"""List endpoints and expand[] of the stand-in, through the official stripe-python SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration


@pytest.fixture
def client(standin: str) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": standin},
                               max_network_retries=0)


def charge(client: stripe.StripeClient, payment_id: str = "pay_1", amount: int = 1000,
           source: str = "tok_visa") -> stripe.Charge:
    return client.v1.charges.create(params={
        "amount": amount, "currency": "usd", "source": source,
        "metadata": {"payment_id": payment_id}})


def paid_intent(client: stripe.StripeClient, amount: int = 1000, **extra: Any) -> Any:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        **extra})


def refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call()
    assert info.value.http_status == 400
    return info.value


def test_charges_list_pages_newest_first_through_auto_paging_iter(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """https://docs.stripe.com/api/pagination and https://docs.stripe.com/api/charges/list:
    the list envelope, newest first, `limit`, and `auto_paging_iter` following `starting_after`
    over three pages; listing is read-only (no ledger `charge` entry)."""
    made = [charge(client, f"pay_{n}").id for n in range(23)]
    first = client.v1.charges.list(params={"limit": 10})
    assert (first.object, first.url, first.has_more) == ("list", "/v1/charges", True)
    assert [c.id for c in first.data] == made[::-1][:10]
    assert first.data[0].metadata["payment_id"] == "pay_22"  # the same shape as retrieve
    assert [c.id for c in first.auto_paging_iter()] == made[::-1]
    assert len(standin_admin.ledger_entries("charge")) == 23
    lists = [e for e in standin_admin.ledger_entries("request") if e["method"] == "GET"]
    assert len(lists) == 3 and all(e["status"] == 200 for e in lists)
    assert client.v1.charges.list().data.__len__() == 10  # default limit


def test_ending_before_pages_backwards(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/pagination: `ending_before` gives the objects just newer than
    the cursor, still newest first; auto-paging from it walks towards the newest."""
    made = [paid_intent(client).id for _ in range(7)]
    page = client.v1.payment_intents.list(params={"ending_before": made[2], "limit": 3})
    assert [p.id for p in page.data] == [made[5], made[4], made[3]] and page.has_more
    walked = [p.id for p in page.auto_paging_iter()]
    assert walked == made[3:]
    last = client.v1.payment_intents.list(params={"ending_before": made[4], "limit": 3})
    assert [p.id for p in last.data] == [made[6], made[5]] and not last.has_more
    older = client.v1.payment_intents.list(params={"starting_after": made[4]})
    assert [p.id for p in older.data] == made[3::-1] and not older.has_more


def test_filters_payment_intent_customer_charge(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/charges/list, https://docs.stripe.com/api/refunds/list:
    charges by `payment_intent` and `customer`, refunds by `charge` and `payment_intent`."""
    direct = charge(client)
    intent = paid_intent(client)
    charge(client, "pay_2")
    by_intent = client.v1.charges.list(params={"payment_intent": intent.id})
    assert [c.id for c in by_intent.data] == [intent.latest_charge]
    # No stand-in object has a customer (there are no Customer objects): nothing matches.
    assert client.v1.charges.list(params={"customer": "cus_1"}).data == []
    assert client.v1.payment_intents.list(params={"customer": "cus_1"}).data == []
    one = client.v1.refunds.create(params={"charge": direct.id, "amount": 100})
    two = client.v1.refunds.create(params={"charge": direct.id})
    three = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert [r.id for r in client.v1.refunds.list(params={"charge": direct.id}).data] == [
        two.id, one.id]
    assert [r.id for r in client.v1.refunds.list(
        params={"payment_intent": intent.id}).data] == [three.id]
    assert len(client.v1.refunds.list().data) == 3
    assert client.v1.refunds.retrieve(one.id).amount == 100


def test_created_filters(client: stripe.StripeClient, standin_admin: StandinAdmin) -> None:
    """https://docs.stripe.com/api/charges/list#list_charges-created: `created=<int>` and
    `created[gt|gte|lt|lte]`, on the stand-in's movable clock."""
    old = charge(client)
    standin_admin.advance_clock(100)
    new = charge(client)
    t_old, t_new = old.created, new.created
    assert t_new >= t_old + 100

    def ids(created: Any, resource: Any = client.v1.charges) -> list[str]:
        return [o.id for o in resource.list(params={"created": created}).data]

    assert ids(t_old) == [old.id]
    assert ids({"gt": t_old}) == [new.id]
    assert ids({"gte": t_old}) == [new.id, old.id]
    assert ids({"lt": t_new}) == [old.id]
    assert ids({"lte": t_new, "gt": t_old}) == [new.id]
    assert ids({"gt": t_new}) == []
    intent = paid_intent(client)
    assert ids({"gte": t_new}, client.v1.payment_intents) == [intent.id]
    refund = client.v1.refunds.create(params={"charge": new.id})
    assert ids({"gte": refund.created}, client.v1.refunds) == [refund.id]
    assert refused(lambda: ids({"after": 1})).param == "created[after]"
    assert refused(lambda: ids({"gt": "soon"})).param == "created[gt]"


def test_bad_limit_unknown_cursor_and_parameter_are_400(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/pagination: `limit` is 1 to 100; a cursor names an existing
    object; https://docs.stripe.com/api/errors: unknown parameters are refused."""
    charge(client)
    for limit in (0, 101, "many"):
        err = refused(lambda limit=limit: client.v1.charges.list(params={"limit": limit}))
        assert err.param == "limit" and err.code == "parameter_invalid_integer"
    assert len(client.v1.charges.list(params={"limit": 100}).data) == 1
    err = refused(lambda: client.v1.charges.list(params={"starting_after": "ch_nope"}))
    assert (err.code, err.param) == ("resource_missing", "starting_after")
    err = refused(lambda: client.v1.refunds.list(params={"ending_before": "re_nope"}))
    assert (err.code, err.param) == ("resource_missing", "ending_before")
    err = refused(lambda: client.v1.payment_intents.list(params={"status": "succeeded"}))
    assert (err.code, err.param) == ("parameter_unknown", "status")
    err = refused(lambda: client.v1.charges.list(
        params={"starting_after": "ch_a", "ending_before": "ch_b"}))
    assert err.param == "ending_before"


def test_expand_latest_charge_on_retrieve_create_and_confirm(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/expanding_objects: `expand[]=latest_charge` turns the id into
    the Charge on retrieve, create and confirm; nested `latest_charge.payment_intent` too."""
    created = paid_intent(client, amount=1234, expand=["latest_charge"])
    assert created.latest_charge.object == "charge" and created.latest_charge.amount == 1234
    fetched = client.v1.payment_intents.retrieve(created.id, params={"expand": ["latest_charge"]})
    assert fetched.latest_charge.id == created.latest_charge.id
    assert fetched.latest_charge.payment_intent == created.id
    plain = client.v1.payment_intents.retrieve(created.id)
    assert plain.latest_charge == created.latest_charge.id  # nothing leaks into the stored object
    intent = client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    confirmed = client.v1.payment_intents.confirm(intent.id, params={
        "payment_method": "pm_card_visa",
        "expand": ["latest_charge", "latest_charge.payment_intent"]})
    assert confirmed.latest_charge.amount == 500
    assert confirmed.latest_charge.payment_intent.id == intent.id
    unpaid = client.v1.payment_intents.create(params={"amount": 55, "currency": "usd"})
    assert client.v1.payment_intents.retrieve(
        unpaid.id, params={"expand": ["latest_charge"]}).latest_charge is None
    refund = client.v1.refunds.create(params={
        "payment_intent": created.id, "expand": ["charge", "payment_intent"]})
    assert refund.charge.amount_refunded == 1234 and refund.payment_intent.id == created.id


def test_expand_on_lists_uses_the_data_prefix(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/expanding_objects: on a list, `expand[]=data.latest_charge`
    expands every object of the page."""
    made = [paid_intent(client, amount=100 + n) for n in range(3)]
    page = client.v1.payment_intents.list(params={"expand": ["data.latest_charge"]})
    assert [p.latest_charge.amount for p in page.data] == [102, 101, 100]
    charges = client.v1.charges.list(params={"expand": ["data.payment_intent"], "limit": 2})
    assert [c.payment_intent.id for c in charges.data] == [made[2].id, made[1].id]
    assert [c.payment_intent.id for c in charges.auto_paging_iter()] == [m.id for m in made[::-1]]
    err = refused(lambda: client.v1.payment_intents.list(params={"expand": ["latest_charge"]}))
    assert "You may want to try expanding 'data.latest_charge' instead." in str(err.user_message)


def test_non_expandable_fields_are_refused(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/expanding_objects: a field that cannot be expanded is a 400
    `This property cannot be expanded (<field>).`, and nothing executes."""
    intent = paid_intent(client)
    err = refused(lambda: client.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge", "customer"]}))
    assert str(err.user_message).startswith("This property cannot be expanded (customer).")
    assert err.param == "expand[1]"
    err = refused(lambda: paid_intent(client, expand=["amount"]))
    assert err.user_message == "This property cannot be expanded (amount)."
    err = refused(lambda: client.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge.payment_intent.latest_charge.payment_intent"
                                      ".latest_charge"]}))
    assert "more than 4 levels" in str(err.user_message)
    assert len(client.v1.payment_intents.list().data) == 1  # the refused create never ran


def test_replay_returns_the_stored_expanded_answer(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """https://docs.stripe.com/api/idempotent_requests: a replay returns the first answer as it
    was sent (expanded), and one charge moved money."""
    params = {"amount": 700, "currency": "usd", "payment_method": "pm_card_visa",
              "confirm": True, "expand": ["latest_charge"]}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "kx"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "kx"})
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert json.loads(again.last_response.body) == json.loads(first.last_response.body)
    assert again.latest_charge.amount == 700
    assert len(standin_admin.ledger_entries("charge")) == 1
