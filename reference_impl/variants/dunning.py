"""`dunning`: `safe`, plus a backup card tried when the customer's card declines — per delivery.

A decline does not fail the payment: it stays `processing` (the client hears 202) and the
`charge.failed` webhook retries it with the customer's backup card (`tok_visa`) under a key
of its own. The handler answers quickly, as Stripe advises, and it guards against one
state only: it skips a payment that already `failed` for good. It never dedupes on
`event.id` and never asks whether a retry already succeeded.

Flaw: Stripe delivers an event at least once. A duplicate `charge.failed` (or a redelivery
after the handler's answer was lost, or a 5xx it gave) charges the backup card again: two
successful charges for one payment. With every event delivered exactly once it is correct,
which is why a test without webhook faults passes.
Caught by: **no-duplicate-charge**, with a `webhook_duplicate` rule on the `charge.failed` of a
declined payment (`payrace explore`'s webhooks fault family; the `webhook_storm` scenario).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from reference_impl.provider import SOURCE_BACKUP, ChargeOutcome
from reference_impl.responses import Reply, database_failed, processing, provider_failed
from reference_impl.schema import payments
from reference_impl.variants.safe import Safe
from reference_impl.webhooks import event_charge


class Dunning(Safe):
    """Safe's charge flow; a decline waits in `processing` for the webhook's backup-card retry."""

    name = "dunning"

    def _record(self, payment_id: str, outcome: ChargeOutcome) -> Reply:
        if outcome.kind != "declined":
            return super()._record(payment_id, outcome)
        with self.engine.begin() as conn:
            conn.execute(
                update(payments)
                .where(payments.c.id == payment_id, payments.c.status == "processing")
                .values(failure_code=outcome.provider_code, version=payments.c.version + 1)
            )
        return processing(payment_id)  # the backup card is tried when the webhook comes

    def on_event(self, event: dict[str, Any]) -> Reply:
        if event["type"] != "charge.failed":
            return super().on_event(event)
        payment_id, _charge = event_charge(event)
        payment = self.store.get(payment_id) if payment_id is not None else None
        if payment is None or payment["status"] == "failed":
            return 200, {"received": True, "ignored": True}
        # The flaw: a key per retry, and no look at whether a retry already took the money.
        key = f"payrace-backup-{uuid.uuid4().hex[:16]}"
        outcome = self.provider.charge(payment, idempotency_key=key, source=SOURCE_BACKUP)
        if outcome.kind != "succeeded":
            return provider_failed(outcome)  # a 5xx: Stripe will deliver the event again
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(payments)
                    .where(payments.c.id == payment["id"], payments.c.status == "processing")
                    .values(status="completed", charge_id=outcome.charge_id,
                            lease_expires_at=None, version=payments.c.version + 1)
                )
        except SQLAlchemyError as exc:
            return database_failed(exc)
        return 200, {"received": True, "payment_id": payment_id, "charge_id": outcome.charge_id}
