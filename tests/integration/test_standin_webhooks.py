"""Webhooks of the stand-in: endpoints, events, signatures and at-least-once delivery, through
stripe-python (and stripe-node for the signature), to a real receiver on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from harness.errors import UsageError
from harness.stripe_standin import TEST_API_KEY, StandinAdmin, running_standin
from harness.stripe_standin.server import serving_in_thread
from harness.stripe_standin.state import StandinState
from harness.stripe_standin.webhooks import LANES
from harness.targets.standin import drain_webhooks, webhooks_pending
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "examples" / "node-express" / "node_modules"
NODE_VERIFY = Path(__file__).with_name("sdk") / "stripe_node_webhook.js"


@pytest.fixture
def client(standin: str) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": standin},
                               max_network_retries=0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as rec:
        yield rec


def hook(client: stripe.StripeClient, url: str, events: list[str] | None = None) -> Any:
    return client.v1.webhook_endpoints.create(
        params={"url": url, "enabled_events": events or ["*"]})  # type: ignore[typeddict-item]


def paid_intent(client: stripe.StripeClient, payment_id: str, **options: Any) -> Any:
    return client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        "metadata": {"payment_id": payment_id}}, options=options)


def webhook_entries(admin: StandinAdmin, settle: float = 0.0) -> list[dict[str, Any]]:
    time.sleep(settle)
    return admin.ledger_entries("webhook")


def test_endpoint_create_answers_its_secret_once(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """https://docs.stripe.com/api/webhook_endpoints/create: the object with `secret` on create
    only; retrieve and list leave it out; delete answers `deleted: true`."""
    created = hook(client, "http://127.0.0.1:9/hooks", ["payment_intent.succeeded"])
    assert created.id.startswith("we_") and created.secret.startswith("whsec_")
    assert created.enabled_events == ["payment_intent.succeeded"]
    assert created.status == "enabled" and created.livemode is False
    again = client.v1.webhook_endpoints.retrieve(created.id)
    assert "secret" not in again
    listed = client.v1.webhook_endpoints.list()
    assert [e.id for e in listed.data] == [created.id] and "secret" not in listed.data[0]
    shown = standin_admin.webhooks()["endpoints"]
    assert [(e["id"], e["secret"], e["source"]) for e in shown] == [
        (created.id, created.secret, "api")]
    assert client.v1.webhook_endpoints.delete(created.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.retrieve(created.id)
    assert info.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as bad:
        hook(client, "ftp://x", ["*"])
    assert bad.value.param == "url"


def test_confirm_delivers_a_signed_payment_intent_succeeded(
    client: stripe.StripeClient, receiver: Receiver, standin_admin: StandinAdmin
) -> None:
    """https://docs.stripe.com/webhooks#verify-events: the delivery carries a Stripe-Signature
    that stripe-python's construct_event accepts with the endpoint's secret (and no other)."""
    secret = hook(client, receiver.url, ["payment_intent.succeeded"]).secret
    intent = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "usd", "payment_method": "pm_card_visa",
        "metadata": {"payment_id": "pay_hook"}})
    client.v1.payment_intents.confirm(intent.id, options={"idempotency_key": "confirm-1"})
    [got] = receiver.wait_for(1)
    event = stripe.Webhook.construct_event(got.body, got.headers["Stripe-Signature"], secret)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id and event.data.object.status == "succeeded"
    assert event.object == "event" and event.id.startswith("evt_") and event.livemode is False
    assert event.request.idempotency_key == "confirm-1"
    assert event.request.id.startswith("req_")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(got.body, got.headers["Stripe-Signature"], "whsec_wrong")
    # Only the subscribed type came (payment_intent.created and charge.succeeded did not).
    time.sleep(0.2)
    assert len(receiver.got) == 1
    [entry] = webhook_entries(standin_admin)
    assert entry["event"] == event.id and entry["status"] == 200 and entry["attempt"] == 1
    assert entry["payment_id"] == "pay_hook" and entry["duration_ms"] >= 0
    assert client.v1.events.retrieve(event.id).pending_webhooks == 0


def test_a_500_is_retried_until_a_2xx(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """https://docs.stripe.com/webhooks#retries: a non-2xx answer is retried with backoff
    (0.2 s doubling here) until the receiver takes it; every attempt is in the ledger."""
    with running_receiver([500, 503]) as rec:
        hook(client, rec.url, ["charge.succeeded"])
        client.v1.charges.create(params={"amount": 700, "currency": "usd", "source": "tok_visa",
                                         "metadata": {"payment_id": "pay_retry"}})
        got = rec.wait_for(3)
    assert [d.status for d in got] == [500, 503, 200]
    assert len({json.loads(d.body)["id"] for d in got}) == 1
    assert got[2].at - got[1].at >= 0.35  # the second wait (0.4 s) doubled the first
    entries = webhook_entries(standin_admin)
    assert [(e["attempt"], e["status"]) for e in entries] == [(1, 500), (2, 503), (3, 200)]
    assert [e["next_retry_s"] for e in entries] == [0.2, 0.4, None]


def test_drain_waits_for_owed_deliveries_and_a_deleted_endpoint_owes_none(
    client: stripe.StripeClient, standin_admin: StandinAdmin
) -> None:
    """What payrace waits for before judging: queued, scheduled (a retry), held and in-flight
    deliveries; deleting the endpoint drops what it was still owed, retries included."""
    with running_receiver([500, 200]) as rec:
        endpoint = hook(client, rec.url, ["charge.succeeded"])
        client.v1.charges.create(params={"amount": 700, "currency": "usd", "source": "tok_visa",
                                         "metadata": {"payment_id": "pay_drain"}})
        assert drain_webhooks(standin_admin, budget_s=10.0) == 0
        assert [d.status for d in rec.got] == [500, 200]  # the retry was waited for too
    # The receiver is gone: every attempt fails and is scheduled again.
    client.v1.charges.create(params={"amount": 700, "currency": "usd", "source": "tok_visa",
                                     "metadata": {"payment_id": "pay_gone"}})
    assert drain_webhooks(standin_admin, budget_s=0.5) > 0
    client.v1.webhook_endpoints.delete(endpoint.id)
    assert drain_webhooks(standin_admin, budget_s=2.0) == 0
    state = standin_admin.webhooks()
    assert webhooks_pending(state) == 0 and state["in_flight"] == 0


def test_a_timeout_is_retried() -> None:
    """https://docs.stripe.com/webhooks#retries: no answer in time is a failed attempt, retried
    (the per-attempt timeout shortened from 5 s to 0.3 s; a stand-in in a thread here)."""
    state = StandinState()
    state.webhooks.timeout_s = 0.3
    with running_receiver(delays=[1.0]) as rec, serving_in_thread(state) as (url, _state):
        client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": url},
                                     max_network_retries=0)
        hook(client, rec.url, ["charge.succeeded"])
        started = time.monotonic()
        client.v1.charges.create(params={"amount": 600, "currency": "usd",
                                         "source": "tok_visa"})
        assert time.monotonic() - started < 0.3  # the API answer never waits on a delivery
        rec.wait_for(2)
        entries = state.ledger.entries("webhook")
        deadline = time.monotonic() + 5
        while len(entries) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            entries = state.ledger.entries("webhook")
    assert [(e["attempt"], e["status"], e["error"]) for e in entries] == [
        (1, None, "timed out after 0.3 s"), (2, 200, None)]


def test_payments_are_delivered_in_parallel_each_in_its_order() -> None:
    """Stripe sends deliveries concurrently: while one payment's event sits at a slow
    receiver, other payments' events are sent; one payment's events still go one after the
    other, in the order they were made (a stand-in in a thread, so lanes are computable)."""
    lanes: dict[int, str] = {}
    n = 0
    while len(lanes) < LANES:  # one payment per lane
        lanes.setdefault(hash(f"pay_{n}") % LANES, f"pay_{n}")
        n += 1
    payments = list(lanes.values())
    with running_receiver(delays=[1.0] * (LANES + 1)) as rec, \
            serving_in_thread(StandinState()) as (url, _state):
        client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": url},
                                     max_network_retries=0)
        hook(client, rec.url, ["charge.succeeded", "charge.refunded"])
        charges = [client.v1.charges.create(params={
            "amount": 600, "currency": "usd", "source": "tok_visa",
            "metadata": {"payment_id": pid}}) for pid in payments]
        client.v1.refunds.create(params={"charge": charges[0].id})
        got = rec.wait_for(LANES + 1)
    first = [d for d in got if json.loads(d.body)["data"]["object"]["id"] == charges[0].id]
    assert [json.loads(d.body)["type"] for d in first] == ["charge.succeeded", "charge.refunded"]
    assert first[1].arrived >= first[0].at, "one payment's events never overlap"
    overlapping = [(a, b) for a in got for b in got if a is not b and a.arrived < b.arrived < a.at]
    assert overlapping, "other payments' deliveries were sent while one sat at the receiver"


def test_faults_duplicate_delay_drop_reorder(
    client: stripe.StripeClient, receiver: Receiver, standin_admin: StandinAdmin
) -> None:
    """https://docs.stripe.com/webhooks#handle-duplicate-events and #event-ordering: Stripe may
    send an event twice, late, or out of order; each fault makes that happen on purpose."""
    hook(client, receiver.url, ["payment_intent.created", "payment_intent.succeeded"])
    standin_admin.arm([
        {"action": "webhook_duplicate", "payment_id": "pay_dup",
         "event_type": "payment_intent.succeeded"},
        {"action": "webhook_delay", "ms": 400, "payment_id": "pay_late",
         "event_type": "payment_intent.succeeded"},
        {"action": "webhook_drop_then_redeliver", "ms": 100, "payment_id": "pay_drop",
         "event_type": "payment_intent.succeeded"},
        {"action": "webhook_reorder", "payment_id": "pay_order",
         "event_type": "payment_intent.created"},
    ])

    def types_for(payment_id: str) -> list[tuple[str, str]]:
        out = []
        for d in receiver.answered_ok():
            event = json.loads(d.body)
            if event["data"]["object"]["metadata"].get("payment_id") == payment_id:
                out.append((event["type"], event["id"]))
        return out

    paid_intent(client, "pay_dup")
    started = time.monotonic()
    paid_intent(client, "pay_late")
    paid_intent(client, "pay_drop")
    paid_intent(client, "pay_order")
    receiver.wait_for(9)  # 2 each, and the duplicate's copy
    dup = types_for("pay_dup")
    assert [t for t, _ in dup].count("payment_intent.succeeded") == 2
    assert len({i for t, i in dup if t == "payment_intent.succeeded"}) == 1  # the same event
    late = [d for d in receiver.got if json.loads(d.body)["type"] == "payment_intent.succeeded"
            and json.loads(d.body)["data"]["object"]["metadata"]["payment_id"] == "pay_late"]
    assert late[0].at - started >= 0.4
    assert [t for t, _ in types_for("pay_order")] == [
        "payment_intent.succeeded", "payment_intent.created"]
    assert len(types_for("pay_drop")) == 2
    entries = webhook_entries(standin_admin)
    dropped = [e for e in entries if e["payment_id"] == "pay_drop"
               and e["type"] == "payment_intent.succeeded"]
    assert [(e["attempt"], e["status"]) for e in dropped] == [(1, None), (2, 200)]
    assert dropped[0]["fault"] == "webhook_drop_then_redeliver"
    assert {e["fault"] for e in entries if e["payment_id"] == "pay_dup"} == {
        None, "webhook_duplicate"}
    with pytest.raises(UsageError, match="does not apply to a webhook action"):
        standin_admin.arm([{"action": "webhook_delay", "path": "/v1/charges"}])


def test_events_list_retrieve_and_filters(client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/api/events/list: newest first, `type` (with a `*` group) and
    `created` filters, cursors; https://docs.stripe.com/api/events/retrieve."""
    charge = client.v1.charges.create(params={"amount": 900, "currency": "usd",
                                              "source": "tok_visa"})
    with pytest.raises(stripe.CardError):
        client.v1.charges.create(params={"amount": 900, "currency": "usd",
                                         "source": "tok_chargeDeclined"})
    intent = paid_intent(client, "pay_ev")
    client.v1.refunds.create(params={"charge": charge.id, "amount": 100})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(params={
            "amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined",
            "confirm": True})
    events = client.v1.events.list(params={"limit": 100}).data
    assert [e.type for e in events] == [
        "payment_intent.payment_failed", "charge.failed", "payment_intent.created",
        "refund.created", "charge.refunded",
        "payment_intent.succeeded", "charge.succeeded", "payment_intent.created",
        "charge.failed", "charge.succeeded"]
    refunded = events[4]
    assert refunded.data.object.id == charge.id and refunded.data.object.amount_refunded == 100
    # A snapshot: the first event still shows the charge before its refund.
    assert events[-1].data.object.amount_refunded == 0
    only = client.v1.events.list(params={"type": "payment_intent.succeeded"}).data
    assert [e.data.object.id for e in only] == [intent.id]
    group = client.v1.events.list(params={"type": "charge.*"}).data
    assert [e.type for e in group] == [
        "charge.failed", "charge.refunded", "charge.succeeded", "charge.failed",
        "charge.succeeded"]
    page = client.v1.events.list(params={"limit": 2, "starting_after": events[1].id})
    assert [e.id for e in page.data] == [events[2].id, events[3].id] and page.has_more
    created = events[0].created
    assert len(client.v1.events.list(params={"created": {"gt": created}}).data) == 0
    got = client.v1.events.retrieve(events[0].id)
    assert got.id == events[0].id and got.api_version and got.pending_webhooks == 0
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.retrieve("evt_nope")
    assert info.value.http_status == 404


def test_an_idempotent_replay_creates_no_event(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    """https://docs.stripe.com/api/idempotent_requests: a replay returns the stored answer and
    executes nothing, so no event is made and nothing more is delivered."""
    hook(client, receiver.url)
    paid_intent(client, "pay_once", idempotency_key="same")
    before = [e.id for e in client.v1.events.list().data]
    again = paid_intent(client, "pay_once", idempotency_key="same")
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert [e.id for e in client.v1.events.list().data] == before
    receiver.wait_for(3)  # created, charge.succeeded, succeeded
    time.sleep(0.3)
    assert len(receiver.got) == 3


def test_webhook_option_endpoint_and_its_secret(receiver: Receiver) -> None:
    """https://docs.stripe.com/webhooks: `payrace stand-in --webhook URL` registers an endpoint
    for every event whose secret the admin API shows; it outlives a reset."""
    with running_standin(webhooks=(receiver.url,)) as url, StandinAdmin(url) as admin:
        [endpoint] = admin.webhooks()["endpoints"]
        assert endpoint["url"] == receiver.url and endpoint["source"] == "cli"
        admin.reset()
        assert [e["id"] for e in admin.webhooks()["endpoints"]] == [endpoint["id"]]
        client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": url},
                                     max_network_retries=0)
        client.v1.charges.create(params={"amount": 500, "currency": "usd",
                                         "source": "tok_visa"})
        [got] = receiver.wait_for(1)
        event = stripe.Webhook.construct_event(got.body, got.headers["Stripe-Signature"],
                                               endpoint["secret"])
        assert event.type == "charge.succeeded"


def test_stripe_node_verifies_the_signature(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    """https://docs.stripe.com/webhooks#verify-events: stripe-node's
    `stripe.webhooks.constructEvent` accepts the delivery, and refuses a tampered body."""
    if not NODE_MODULES.is_dir():
        pytest.fail(f"{NODE_MODULES} is missing: `make test` runs `npm ci` there first")
    secret = hook(client, receiver.url, ["charge.succeeded"]).secret
    client.v1.charges.create(params={"amount": 800, "currency": "usd", "source": "tok_visa"})
    [got] = receiver.wait_for(1)
    done = subprocess.run(
        ["node", str(NODE_VERIFY)], capture_output=True, text=True, timeout=60,
        input=json.dumps({"payload": got.body.decode(), "header": got.headers["Stripe-Signature"],
                          "secret": secret}),
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)}, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out == {"type": "charge.succeeded", "id": json.loads(got.body)["id"],
                   "tampered": "StripeSignatureVerificationError"}
