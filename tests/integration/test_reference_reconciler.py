"""The `safe` variant's reconciler in-process, against real PostgreSQL and the stand-in: leases,
take-overs, the key's 24-hour lifetime and the background loop — with the ledger as witness."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from harness.stripe_standin import StandinAdmin
from reference_impl.config import ServiceConfig
from reference_impl.reconciler import ReconcileLoop
from reference_impl.variants.safe import Safe

pytestmark = pytest.mark.integration

LEASE_S = 0.5


@pytest.fixture(scope="module")
def config(postgres_url: str, standin_url: str) -> ServiceConfig:
    return ServiceConfig(database_url=postgres_url, stripe_url=standin_url, lease_seconds=LEASE_S)


@pytest.fixture
def safe(config: ServiceConfig) -> Iterator[Safe]:
    variant = Safe(config)
    yield variant
    variant.close()


def abandoned(safe: Safe, customer: str | None = None) -> str:
    """A payment claimed by a worker that then vanished: `processing`, leased, never charged."""
    payment_id = str(safe.create_payment(1500, "usd", customer)["id"])
    assert safe.claim(payment_id, force=False, from_status=("pending",)) is not None
    return payment_id


def lost_answer(safe: Safe, admin: StandinAdmin) -> str:
    """A payment whose charge was made but whose answer never reached the service (202)."""
    payment_id = str(safe.create_payment(1500, "usd", None)["id"])
    base: dict[str, Any] = {"path": "/v1/charges", "payment_id": payment_id, "count": 1}
    admin.arm(
        [
            {**base, "action": "drop_after"},
            {**base, "action": "error_before", "nth": 2, "status": 503},
        ]
    )
    assert safe.charge(payment_id, None)[0] == 202
    assert len(admin.charges(payment_id)) == 1
    admin.clear_faults()
    return payment_id


def test_a_leased_payment_is_left_alone_and_redriven_once_the_lease_expires(
    safe: Safe, standin_admin: StandinAdmin
) -> None:
    payment_id = abandoned(safe)
    assert safe.reconcile() == {"redriven": 0, "completed": 0, "failed": 0}
    time.sleep(LEASE_S + 0.1)
    assert safe.reconcile() == {"redriven": 1, "completed": 1, "failed": 0}
    payment = safe.get_payment(payment_id)
    assert payment is not None and payment["status"] == "completed"
    assert [c["id"] for c in standin_admin.charges(payment_id)] == [payment["charge_id"]]


def test_a_redriven_declined_card_fails_the_payment(
    safe: Safe, standin_admin: StandinAdmin
) -> None:
    payment_id = abandoned(safe, customer="decline")
    assert safe.reconcile(force=True) == {"redriven": 1, "completed": 0, "failed": 1}
    payment = safe.get_payment(payment_id)
    assert payment is not None and payment["status"] == "failed"
    assert standin_admin.charges(payment_id) == []


def test_a_client_retry_takes_over_a_payment_whose_lease_expired(
    safe: Safe, standin_admin: StandinAdmin
) -> None:
    payment_id = abandoned(safe)
    assert safe.charge(payment_id, None)[0] == 409  # still leased to the vanished worker
    time.sleep(LEASE_S + 0.1)
    status, body = safe.charge(payment_id, None)
    assert status == 200 and body["status"] == "completed"
    assert len(standin_admin.charges(payment_id)) == 1


def test_a_lost_answer_is_replayed_not_repeated(safe: Safe, standin_admin: StandinAdmin) -> None:
    payment_id = lost_answer(safe, standin_admin)
    assert safe.reconcile(force=True)["completed"] == 1
    (charge,) = standin_admin.charges(payment_id)
    payment = safe.get_payment(payment_id)
    assert payment is not None and payment["charge_id"] == charge["id"]


def test_past_the_key_lifetime_the_reconciler_finds_the_charge_instead_of_charging_again(
    config: ServiceConfig, standin_admin: StandinAdmin
) -> None:
    # The service counts the key's age itself; a lifetime of 0 makes every key "old".
    safe = Safe(replace(config, key_lifetime_seconds=0))
    try:
        payment_id = lost_answer(safe, standin_admin)
        standin_admin.advance_clock(25 * 3600)  # the stand-in prunes the key
        assert safe.reconcile(force=True)["completed"] == 1
        (charge,) = standin_admin.charges(payment_id)
        payment = safe.get_payment(payment_id)
        assert payment is not None and payment["charge_id"] == charge["id"]
    finally:
        safe.close()


def test_without_the_search_a_pruned_key_would_charge_the_card_again(
    safe: Safe, standin_admin: StandinAdmin
) -> None:
    """Why the search exists: this service still believes its key is alive (its own clock says
    minutes), but the provider's clock passed 24 hours and forgot it, so a replay is a charge."""
    payment_id = lost_answer(safe, standin_admin)
    standin_admin.advance_clock(25 * 3600)
    safe.reconcile(force=True)
    assert len(standin_admin.charges(payment_id)) == 2


def test_the_background_loop_settles_an_abandoned_payment(
    safe: Safe, standin_admin: StandinAdmin
) -> None:
    payment_id = abandoned(safe)
    loop = ReconcileLoop(safe.reconcile, interval=0.1)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            payment = safe.get_payment(payment_id)
            if payment is not None and payment["status"] == "completed":
                break
            time.sleep(0.05)
    finally:
        loop.stop()
    assert payment is not None and payment["status"] == "completed"
    assert len(standin_admin.charges(payment_id)) == 1
