"""The reference webhook route's own decisions: no endpoint, a bad payload, an unwanted type."""

from __future__ import annotations

import json
import time
from typing import Any

from harness.stripe_standin.signing import signature
from reference_impl.webhooks import event_charge, receive

SECRET = "whsec_unit"


class Recorder:
    """A receiver that keeps what the route handed it."""

    webhook_events = ("charge.succeeded",)

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def on_event(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.events.append(event)
        return 200, {"received": True}


def signed(event: object) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    return payload, signature(payload, SECRET, int(time.time()))


def test_a_service_that_registered_no_endpoint_answers_404() -> None:
    payload, header = signed({"type": "charge.succeeded"})
    status, body = receive(Recorder(), payload, header, "")
    assert status == 404 and body["error"]["code"] == "webhooks_off"


def test_a_missing_or_stale_signature_is_a_400() -> None:
    payload, _ = signed({"type": "charge.succeeded"})
    assert receive(Recorder(), payload, None, SECRET)[0] == 400
    stale = signature(payload, SECRET, int(time.time()) - 3600)  # past Stripe's 5 minutes
    status, body = receive(Recorder(), payload, stale, SECRET)
    assert status == 400 and body["error"]["code"] == "bad_signature"


def test_a_signed_body_that_is_not_json_is_a_400() -> None:
    payload = b"not json"
    status, body = receive(Recorder(), payload, signature(payload, SECRET, int(time.time())),
                           SECRET)
    assert status == 400 and body["error"]["code"] == "bad_payload"


def test_only_the_wanted_types_reach_the_variant() -> None:
    recorder = Recorder()
    for kind in ("charge.refunded", "charge.succeeded"):
        payload, header = signed({"id": f"evt_{kind}", "type": kind})
        assert receive(recorder, payload, header, SECRET)[0] == 200
    assert [e["type"] for e in recorder.events] == ["charge.succeeded"]


def test_event_charge_names_the_payment_of_a_charge_only() -> None:
    charge = {"id": "ch_1", "object": "charge", "metadata": {"payment_id": "pay_1"}}
    assert event_charge({"data": {"object": charge}}) == ("pay_1", charge)
    intent = {"object": "payment_intent", "metadata": {"payment_id": "pay_1"}}
    assert event_charge({"data": {"object": intent}}) == (None, {})
    assert event_charge({"data": {"object": {"object": "charge"}}})[0] is None
