"""The reference service's webhook route, served (two workers) against its own stand-in: `safe`
learns a lost charge's outcome from `charge.succeeded` whatever the deliveries' number and
order, never takes `charge.failed` for the outcome, and `dunning` charges again on a duplicate.

The stand-in is this module's own and never reset: the launcher registered each service's
endpoint through Stripe's API at start, and a reset would forget it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.provision.postgres import Provisioned, fresh_database
from harness.provision.service import running_service
from harness.stripe_standin import StandinAdmin, running_standin
from harness.stripe_standin.signing import signature
from harness.targets.standin import drain_webhooks
from tests.fixtures_postgres import REFERENCE_SCHEMA

pytestmark = pytest.mark.integration


class Stack:
    """One stand-in, and each variant served once on its own database."""

    def __init__(self, stack: contextlib.ExitStack, server_url: str) -> None:
        self.stack = stack
        self.server_url = server_url
        self.standin_url = stack.enter_context(running_standin())
        self.admin = StandinAdmin(self.standin_url)
        self.urls: dict[str, str] = {}

    def service(self, variant: str) -> str:
        if variant not in self.urls:
            database = self.stack.enter_context(
                fresh_database(self.server_url, f"t_hooks_{variant}", REFERENCE_SCHEMA))
            self.urls[variant] = self.stack.enter_context(running_service(
                variant, 2, database, self.standin_url, lease_seconds=30))
        return self.urls[variant]

    def secret(self, url: str) -> str:
        for endpoint in self.admin.webhooks()["endpoints"]:
            if endpoint["url"].startswith(url):
                return str(endpoint["secret"])
        raise AssertionError(f"no endpoint registered for {url}")


@pytest.fixture(scope="module")
def hooks(postgres_server: Provisioned) -> Iterator[Stack]:
    with contextlib.ExitStack() as stack:
        yield Stack(stack, postgres_server.url)


@pytest.fixture(autouse=True)
def _disarm(hooks: Stack) -> Iterator[None]:
    yield
    hooks.admin.clear_faults()


def create(url: str, customer: str | None = None) -> str:
    body: dict[str, Any] = {"amount": 1500, "currency": "usd"}
    if customer is not None:
        body["customer"] = customer
    response = httpx.post(url + "/payments", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def status(url: str, payment_id: str) -> dict[str, Any]:
    row: dict[str, Any] = httpx.get(f"{url}/payments/{payment_id}", timeout=10).json()
    return row


def lose_the_answer(admin: StandinAdmin, payment_id: str, *extra: dict[str, Any]) -> None:
    """The charge executes, its answer is a 500 the key replays, and search does not show it
    yet: `safe` cannot learn the outcome by itself and answers 202 `processing`."""
    common = {"payment_id": payment_id, "count": 1, "money": True}
    admin.arm([
        {"action": "error_after", **common},
        {"action": "search_lag", "ms": 60_000, **common},
        *extra,
    ])


def deliveries(admin: StandinAdmin, url: str, payment_id: str) -> list[tuple[str, int | None]]:
    """The deliveries to one service (every service here shares the stand-in, and each
    endpoint gets every event: the other service ignores payments it does not know)."""
    return [(e["type"], e["status"]) for e in admin.ledger_entries("webhook")
            if e.get("payment_id") == payment_id and e["url"].startswith(url)]


def test_the_launcher_registers_one_endpoint_for_the_service(hooks: Stack) -> None:
    """One endpoint for both workers (one each would deliver every event twice), subscribed to
    the events the variant acts on; the workers verify with its secret."""
    url = hooks.service("safe")
    mine = [e for e in hooks.admin.webhooks()["endpoints"] if e["url"].startswith(url)]
    assert len(mine) == 1
    assert mine[0]["url"] == url + "/webhooks/stripe"
    assert mine[0]["enabled_events"] == ["charge.succeeded", "charge.failed"]


def test_safe_learns_a_lost_charge_from_a_duplicated_webhook_once(hooks: Stack) -> None:
    """https://docs.stripe.com/webhooks#handle-duplicate-events: the charge.succeeded event,
    delivered twice, completes the payment with the one charge; the second changes nothing."""
    url = hooks.service("safe")
    payment_id = create(url)
    lose_the_answer(hooks.admin, payment_id,
                    {"action": "webhook_duplicate", "payment_id": payment_id, "count": 1})
    answer = httpx.post(f"{url}/payments/{payment_id}/charge", timeout=30)
    assert answer.status_code == 202, answer.text
    assert drain_webhooks(hooks.admin, budget_s=10.0) == 0
    (charge,) = hooks.admin.charges(payment_id)
    row = status(url, payment_id)
    assert (row["status"], row["charge_id"]) == ("completed", charge["id"])
    assert deliveries(hooks.admin, url, payment_id) == [
        ("charge.succeeded", 200), ("charge.succeeded", 200)]


def test_safe_never_takes_a_failure_event_for_the_outcome(hooks: Stack) -> None:
    """A charge.failed that arrives while an attempt is in flight (a late one from an older
    attempt, or a forged order) only ends the lease; the success delivered after it decides."""
    url = hooks.service("safe")
    payment_id = create(url)
    lose_the_answer(hooks.admin, payment_id, {"action": "webhook_delay", "ms": 1500,
                                              "payment_id": payment_id, "count": 1})
    assert httpx.post(f"{url}/payments/{payment_id}/charge", timeout=30).status_code == 202
    event = {"id": "evt_late_failure", "object": "event", "type": "charge.failed",
             "data": {"object": {"id": "ch_older", "object": "charge", "status": "failed",
                                 "amount": 1500, "metadata": {"payment_id": payment_id}}}}
    payload = json.dumps(event).encode()
    header = signature(payload, hooks.secret(url), int(time.time()))
    late = httpx.post(f"{url}/webhooks/stripe", content=payload,
                      headers={"Stripe-Signature": header}, timeout=10)
    assert late.status_code == 200 and late.json()["changed"] == 1, late.text
    assert status(url, payment_id)["status"] == "processing"
    assert drain_webhooks(hooks.admin, budget_s=10.0) == 0
    (charge,) = hooks.admin.charges(payment_id)
    assert status(url, payment_id)["charge_id"] == charge["id"]


def test_a_delivery_with_a_bad_signature_is_refused(hooks: Stack) -> None:
    """https://docs.stripe.com/webhooks#verify-events: the official SDK checks the signature;
    a forged one is a 400 and changes nothing."""
    url = hooks.service("safe")
    payment_id = create(url)
    payload = json.dumps({"id": "evt_forged", "type": "charge.succeeded", "data": {"object": {
        "id": "ch_forged", "object": "charge", "amount": 1500,
        "metadata": {"payment_id": payment_id}}}}).encode()
    forged = signature(payload, "whsec_not_the_secret", int(time.time()))
    answer = httpx.post(f"{url}/webhooks/stripe", content=payload,
                        headers={"Stripe-Signature": forged}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_signature"
    assert status(url, payment_id)["status"] == "pending"


def test_dunning_charges_the_backup_card_once_per_delivery(hooks: Stack) -> None:
    """The flaw, made deterministic: one charge.failed delivered twice, two backup charges.
    Delivered once, the same flow charges once — why a test without duplicates passes."""
    url = hooks.service("dunning")
    once = create(url, customer="decline")
    assert httpx.post(f"{url}/payments/{once}/charge", timeout=30).status_code == 202
    assert drain_webhooks(hooks.admin, budget_s=10.0) == 0
    (charge,) = hooks.admin.charges(once)
    row = status(url, once)
    assert (row["status"], row["charge_id"]) == ("completed", charge["id"])
    twice = create(url, customer="decline")
    hooks.admin.arm([{"action": "webhook_duplicate", "payment_id": twice,
                      "event_type": "charge.failed", "count": 1}])
    assert httpx.post(f"{url}/payments/{twice}/charge", timeout=30).status_code == 202
    assert drain_webhooks(hooks.admin, budget_s=10.0) == 0
    charges = hooks.admin.charges(twice)
    assert len(charges) == 2
    assert len({c["idempotency_key"] for c in charges}) == 2
    assert [t for t, _ in deliveries(hooks.admin, url, twice)].count("charge.failed") == 2
