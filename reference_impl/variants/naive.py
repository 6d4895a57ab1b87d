"""`naive`: read the status, charge, write the result — no lock, no idempotency key.

Flaw: two concurrent charge requests for one payment both read `pending` and both
charge the card (a double charge), and the second write silently replaces the
first charge id, so one charge is also left unrecorded.
Caught by: **no-duplicate-charge** (two charges in the ledger for one payment) and
**db-consistency** (a charge whose id no payment records). A stand-in `gate`
with n=2 on the payment makes the race happen every time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from reference_impl.config import ServiceConfig
from reference_impl.responses import (
    Reply,
    completed,
    conflict,
    declined,
    not_found,
    provider_failed,
)
from reference_impl.schema import payments
from reference_impl.variants._base import VariantBase


class Naive(VariantBase):
    """Check-then-act across a network call, with nothing to make it atomic."""

    name = "naive"

    def __init__(self, config: ServiceConfig) -> None:
        super().__init__(config, max_network_retries=0)

    def _charge(self, payment_id: str, idempotency_key: str | None) -> Reply:
        # The client's Idempotency-Key header is ignored, as the code under test ignored it.
        return unguarded_charge(self, payment_id)


def unguarded_charge(v: VariantBase, payment_id: str) -> Reply:
    """Read, charge, write: the flow `naive` runs bare and `mutex` runs under a process lock."""
    payment: dict[str, Any] | None = v.store.get(payment_id)
    if payment is None:
        return not_found(payment_id)
    if payment["status"] != "pending":
        return conflict(payment)
    v.failpoints.hit("before_charge")
    outcome = v.provider.charge(payment, idempotency_key=None)
    v.failpoints.hit("after_charge")
    if outcome.kind == "unknown":
        return provider_failed(outcome)
    values: dict[str, Any]
    if outcome.kind == "declined":
        values = {"status": "failed", "failure_code": outcome.provider_code}
    else:
        values = {"status": "completed", "charge_id": outcome.charge_id}
    with v.engine.begin() as conn:
        conn.execute(
            update(payments)
            .where(payments.c.id == payment_id)
            .values(**values, version=payments.c.version + 1)
        )
        v.failpoints.hit("before_commit", conn)
    if outcome.kind == "declined":
        return declined(outcome)
    assert outcome.charge_id is not None
    return completed(payment_id, outcome.charge_id)
