"""`safe`: atomic phases, one deterministic idempotency key per payment, a lease and a reconciler.

1. **Claim** (one short transaction): `pending → processing` — or take over a
   `processing` payment whose lease expired — setting a lease, counting the
   attempt and recording the key `payrace-charge-<payment_id>`. No lock is held
   after this commit.
2. **Charge** with that key, outside any transaction. SDK retries (1) are safe
   because the key makes them replays.
3. **Record** the answer in its own transaction: succeeded → `completed`; card
   declined → `failed` (402). Anything else — timeout, reset, 5xx, 429, 409
   `idempotency_key_in_use` — is *unknown*: the payment stays `processing` under
   its lease and the client gets `202 {"status": "processing"}`. A 5xx that the
   provider *replays* from the key was stored after the charge started executing,
   so Charges are searched by `metadata['payment_id']` to learn whether it took.

The reconciler (`reference_impl.reconciler`; `POST /_admin/reconcile`, or a
background loop) re-drives `processing` payments whose lease expired, with the
same key. A key lives 24 hours at the provider; past that (counted from the
first attempt) it first searches Charges by `metadata['payment_id']` and records
a charge it finds, and only charges anew when there is none.

Webhooks (`charge.succeeded`, `charge.failed`, `POST /webhooks/stripe`) are how it learns a lost
answer early, idempotently, whatever their order or number: a succeeded Charge for a payment
still `processing` is recorded at once (the same UPDATE as the request path, so a duplicate
changes nothing); a failed one only ends the payment's lease, so the next reconcile replays
the key and records what the provider stored for it. A failure event is never recorded as
the outcome itself: a late one may come from an attempt older than the one in flight.

A customer named `decline` pays with `tok_chargeDeclined`, so declines can be
driven through the public API; everyone else pays with `tok_visa`.

Flaw: none known. payrace must pass it under every fault: **no-duplicate-charge**,
**charge-bounds**, **db-consistency** and **retry-key-stability** all hold after
reconciliation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from reference_impl.config import ServiceConfig
from reference_impl.provider import ChargeOutcome
from reference_impl.reconciler import reconcile
from reference_impl.responses import (
    Reply,
    completed,
    conflict,
    database_failed,
    declined,
    not_found,
    processing,
)
from reference_impl.schema import payments
from reference_impl.store import row_to_dict
from reference_impl.variants._base import VariantBase
from reference_impl.webhooks import event_charge

KEY_PREFIX = "payrace-charge-"
SDK_RETRIES = 1


def key_for(payment_id: str) -> str:
    """The provider idempotency key: the same for every attempt at one payment, from any worker."""
    return KEY_PREFIX + payment_id


class Safe(VariantBase):
    """Claim, charge with the payment's key, record; never hold a lock across the network."""

    name = "safe"
    webhook_events = ("charge.succeeded", "charge.failed")

    def __init__(self, config: ServiceConfig) -> None:
        super().__init__(config, max_network_retries=SDK_RETRIES)

    # ---- the client-facing flow -------------------------------------------------------------

    def _charge(self, payment_id: str, idempotency_key: str | None) -> Reply:
        # The client's Idempotency-Key is not needed: the key is derived from the payment.
        claimed = self.claim(payment_id, force=False, from_status=("pending", "processing"))
        if claimed is None:
            current = self.store.get(payment_id)
            return not_found(payment_id) if current is None else conflict(current)
        return self.drive(claimed)

    # ---- phases, shared with the reconciler ---------------------------------------------------

    def claim(
        self, payment_id: str, *, force: bool, from_status: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """Atomically take the payment for one attempt, or None if it is not ours to take.

        A `processing` payment is taken only when its lease expired (or `force`); the
        UPDATE's WHERE is re-checked on the locked row, so two claimers never both win.
        """
        takeable = [payments.c.status == "pending"] if "pending" in from_status else []
        if "processing" in from_status:
            lease_over = payments.c.lease_expires_at <= func.clock_timestamp()
            in_flight = payments.c.status == "processing"
            takeable.append(in_flight if force else in_flight & lease_over)
        lease = timedelta(seconds=self.config.lease_seconds)
        lifetime = timedelta(seconds=self.config.key_lifetime_seconds)
        statement = (
            update(payments)
            .where(payments.c.id == payment_id, or_(*takeable))
            .values(
                status="processing",
                attempts=payments.c.attempts + 1,
                lease_expires_at=func.clock_timestamp() + lease,
                idempotency_key=key_for(payment_id),
                first_attempt_at=func.coalesce(payments.c.first_attempt_at, func.clock_timestamp()),
                version=payments.c.version + 1,
            )
            .returning(
                *payments.c,
                (func.clock_timestamp() - payments.c.first_attempt_at > lifetime).label(
                    "key_expired"
                ),
            )
        )
        with self.engine.begin() as conn:
            row = conn.execute(statement).mappings().first()
        return None if row is None else row_to_dict(row)

    def drive(self, payment: dict[str, Any]) -> Reply:
        """Charge a claimed payment with its key and record what the provider said."""
        payment_id = str(payment["id"])
        self.failpoints.hit("before_charge")
        outcome = self._charge_or_find(payment)
        self.failpoints.hit("after_charge")
        if outcome.kind == "unknown":
            return processing(payment_id)
        try:
            return self._record(payment_id, outcome)
        except SQLAlchemyError as exc:
            # The provider answered but we could not write it down: still `processing`,
            # and the reconciler's replay of the same key will record it.
            return database_failed(exc)

    def expired_processing(self, force: bool) -> list[str]:
        """Ids of `processing` payments whose lease expired (all of them with `force`)."""
        query = select(payments.c.id).where(payments.c.status == "processing")
        if not force:
            query = query.where(payments.c.lease_expires_at <= func.clock_timestamp())
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query.order_by(payments.c.created_at)).scalars()]

    def reconcile(self, force: bool = False) -> dict[str, int]:
        return reconcile(self, force=force)

    def on_event(self, event: dict[str, Any]) -> Reply:
        """Learn an attempt's outcome from its webhook; a duplicate or a late one is a no-op."""
        payment_id, charge = event_charge(event)
        if payment_id is None:
            return 200, {"received": True, "ignored": True}
        in_flight = (payments.c.id == payment_id) & (payments.c.status == "processing")
        if event["type"] == "charge.succeeded":
            statement = (
                update(payments)
                .where(in_flight, payments.c.amount == int(charge.get("amount") or 0))
                .values(status="completed", charge_id=str(charge["id"]), lease_expires_at=None,
                        version=payments.c.version + 1)
            )
        else:
            # Not "failed": only a replay of the key says what the attempt in flight did.
            statement = (
                update(payments).where(in_flight)
                .values(lease_expires_at=func.clock_timestamp(), version=payments.c.version + 1)
            )
        try:
            with self.engine.begin() as conn:
                changed = conn.execute(statement).rowcount
        except SQLAlchemyError as exc:
            return database_failed(exc)  # a 5xx: the provider delivers the event again
        return 200, {"received": True, "payment_id": payment_id, "changed": changed}

    # ---- internals --------------------------------------------------------------------------

    def _charge_or_find(self, payment: dict[str, Any]) -> ChargeOutcome:
        payment_id = str(payment["id"])
        if payment.get("key_expired"):
            # The provider has forgotten the key: a replay is impossible, a search is not.
            try:
                found = self.provider.find_charge(payment_id)
            except Exception as exc:  # any failure to look is an unknown, never a "no"
                return ChargeOutcome("unknown", provider_code="search_failed", message=str(exc))
            if found is not None:
                return ChargeOutcome("succeeded", charge_id=found)
            with self.engine.begin() as conn:
                # A new lifetime starts for the key with this new charge attempt.
                conn.execute(
                    update(payments)
                    .where(payments.c.id == payment_id, payments.c.status == "processing")
                    .values(first_attempt_at=func.clock_timestamp())
                )
        outcome = self.provider.charge(payment, idempotency_key=key_for(payment_id))
        if outcome.kind == "unknown" and outcome.replayed and (outcome.http_status or 0) >= 500:
            # The provider stores a 5xx on the key once the request started executing, and
            # replays it for 24 hours: only a search can tell whether that attempt charged.
            return self._search_instead(payment_id, outcome)
        return outcome

    def _search_instead(self, payment_id: str, replay: ChargeOutcome) -> ChargeOutcome:
        try:
            found = self.provider.find_charge(payment_id)
        except Exception:  # a failed search leaves the outcome as unknown as it was
            return replay
        return replay if found is None else ChargeOutcome("succeeded", charge_id=found)

    def _record(self, payment_id: str, outcome: ChargeOutcome) -> Reply:
        values: dict[str, Any]
        if outcome.kind == "succeeded":
            values = {"status": "completed", "charge_id": outcome.charge_id}
        else:
            values = {"status": "failed", "failure_code": outcome.provider_code}
        with self.engine.begin() as conn:
            result = conn.execute(
                update(payments)
                .where(payments.c.id == payment_id, payments.c.status == "processing")
                .values(**values, lease_expires_at=None, version=payments.c.version + 1)
            )
            self.failpoints.hit("before_commit", conn)
        if result.rowcount == 0:
            # Another attempt (a take-over or the reconciler) recorded it first; the same
            # key means the same charge, so report what the row now says.
            current = self.store.get(payment_id)
            if current is not None and current["status"] == "completed":
                return completed(payment_id, str(current["charge_id"]))
            if current is not None and current["status"] != "failed":
                return conflict(current)
        if outcome.kind == "declined":
            return declined(outcome)
        assert outcome.charge_id is not None
        return completed(payment_id, outcome.charge_id)
