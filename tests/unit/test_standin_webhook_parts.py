"""The stand-in's webhook parts without a server: signatures, fault rules, backoff, events."""

from __future__ import annotations

import json

import orjson
import pytest
import stripe

from harness.stripe_standin.faults import FaultRuleError, Faults, parse_rules
from harness.stripe_standin.resources import Context
from harness.stripe_standin.signing import new_secret, signature
from harness.stripe_standin.state import StandinState
from harness.stripe_standin.webhooks import MAX_ATTEMPTS, backoff

CTX = Context(1_800_000_000.0, "req_1", "key-1", "sk_test_x")
CHARGE = {"amount": 1000, "currency": "usd", "source": "tok_visa",
          "metadata": {"payment_id": "pay_1"}, "description": None}


def test_signature_is_what_stripe_python_verifies() -> None:
    """https://docs.stripe.com/webhooks#verify-events: `t=…,v1=HMAC-SHA256("t.payload")`."""
    import time

    secret = new_secret()
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "charge.succeeded",
                          "data": {"object": {}}}).encode()
    header = signature(payload, secret, int(time.time()))
    assert stripe.Webhook.construct_event(payload, header, secret).id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature(payload, secret, 1), secret)


def test_webhook_rules_parse_match_and_never_touch_requests() -> None:
    rules = parse_rules([
        {"action": "webhook_delay", "ms": 50, "event_type": "charge.*", "count": 1},
        {"action": "webhook_duplicate", "payment_id": "pay_2"},
    ], 0)
    faults = Faults()
    faults.arm(rules)
    assert faults.plan("POST", "/v1/charges", "pay_2").label is None
    assert [r.action for r in faults.for_event("charge.succeeded", "pay_1")] == ["webhook_delay"]
    assert faults.for_event("charge.succeeded", "pay_1") == []  # count 1 spent
    assert [r.action for r in faults.for_event("refund.created", "pay_2")] == [
        "webhook_duplicate"]
    assert "path" not in rules[0].describe() and rules[0].describe()["event_type"] == "charge.*"
    for bad, field in (({"action": "webhook_delay", "path": "/v1/x"}, "path"),
                       ({"action": "latency", "event_type": "charge.succeeded"}, "event_type"),
                       ({"action": "webhook_reorder", "ms": 5}, "ms")):
        with pytest.raises(FaultRuleError) as info:
            parse_rules([bad], 0)
        assert info.value.field == field


def test_backoff_doubles_from_a_fifth_of_a_second_and_caps() -> None:
    assert [backoff(n) for n in range(1, MAX_ATTEMPTS)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_events_are_snapshots_made_without_any_listener() -> None:
    """https://docs.stripe.com/api/events/object: `data.object` as it was when it happened."""
    state = StandinState()
    charge = state.resources.create_charge(dict(CHARGE), CTX)
    state.resources.refund({"charge": charge["id"], "payment_intent": None, "amount": 100,
                            "metadata": {}, "reason": None}, CTX)
    events = state.resources.events.store.ordered
    assert [e["type"] for e in events] == ["charge.succeeded", "charge.refunded",
                                           "refund.created"]
    first = orjson.loads(orjson.dumps(events[0]))
    assert first["data"]["object"]["amount_refunded"] == 0  # the refund came later
    assert first["request"] == {"id": "req_1", "idempotency_key": "key-1"}
    assert first["created"] == int(CTX.now) and first["pending_webhooks"] == 0
    # Nobody listens: nothing was queued, no delivery task was started.
    assert state.webhooks.lanes == [] and state.webhooks.tasks == []
    state.reset()
    assert len(state.resources.events.store) == 0
