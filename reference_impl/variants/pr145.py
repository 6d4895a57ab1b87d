"""`pr145`: the merged PR #145 ported line for line — lock the row, charge holding it, commit.

The Go flow, as the README tells PR #145 (each step is mirrored below,
in order, with the Go line beside it)::

    tx, err := db.BeginTx(ctx, nil)                    // one transaction
    defer tx.Rollback()
    row := tx.QueryRow("SELECT … FROM payments WHERE id = $1 FOR UPDATE", id)
    if p.Status != "pending" { return ErrAlreadyProcessed }
    ch, err := charge.New(&stripe.ChargeParams{…, Metadata: {"payment_id": id}})
    if err != nil { return err }                       // rollback: still pending
    tx.Exec("UPDATE payments SET status='completed', charge_id=$1 WHERE id=$2", ch.ID, id)
    return tx.Commit()

No idempotency key is chosen by the code and the client makes no retries of its
own (`max_network_retries=0`). The SDK, like stripe-go, attaches a fresh random
key to each POST; a new request therefore carries a new key and is a new charge.

Flaw: when the provider charges the card but the answer is lost (reset, timeout,
5xx after executing) or the commit fails (connection killed, crash), the
transaction rolls back, the payment is still `pending`, and the client's retry
charges the card again. The row lock is also held across the network call, so
under load requests queue on it and hold pool connections.
Caught by: **no-duplicate-charge** (two charges for one payment after a stand-in
`drop_after` or a `before_commit` failpoint plus one client retry),
**charge-bounds** and **db-consistency**, and the **retry-key-stability**
warning (each retry reached the provider under a different key). It passes the
PR's own test — concurrent requests without faults — because `FOR UPDATE`
does serialise them.
"""

from __future__ import annotations

from sqlalchemy import update

from reference_impl.config import ServiceConfig
from reference_impl.provider import ChargeOutcome
from reference_impl.responses import (
    Reply,
    completed,
    conflict,
    declined,
    not_found,
    provider_failed,
)
from reference_impl.schema import payments
from reference_impl.store import PaymentStore
from reference_impl.variants._base import VariantBase


class _Rollback(Exception):
    """The Go `return err` inside the transaction: the deferred Rollback undoes everything."""

    def __init__(self, outcome: ChargeOutcome) -> None:
        super().__init__(outcome.provider_code)
        self.outcome = outcome


class Pr145(VariantBase):
    """One transaction around the row lock, the Stripe call and the update."""

    name = "pr145"

    def __init__(self, config: ServiceConfig) -> None:
        # The Go code configured no retries.
        super().__init__(config, max_network_retries=0)

    def _charge(self, payment_id: str, idempotency_key: str | None) -> Reply:
        try:
            return self._process_payment(payment_id)
        except _Rollback as rollback:
            outcome = rollback.outcome
            return declined(outcome) if outcome.kind == "declined" else provider_failed(outcome)

    def _process_payment(self, payment_id: str) -> Reply:
        with self.engine.connect() as conn, conn.begin():  # BeginTx; defer Rollback
            payment = PaymentStore.get_in(conn, payment_id, for_update=True)  # SELECT … FOR UPDATE
            if payment is None:
                return not_found(payment_id)
            if payment["status"] != "pending":  # ErrAlreadyProcessed
                return conflict(payment)
            self.failpoints.hit("before_charge", conn)
            outcome = self.provider.charge(payment, idempotency_key=None)  # charge.New
            self.failpoints.hit("after_charge", conn)
            if outcome.kind != "succeeded":  # if err != nil { return err }
                raise _Rollback(outcome)
            conn.execute(  # UPDATE payments SET status='completed', charge_id=$1
                update(payments)
                .where(payments.c.id == payment_id)
                .values(
                    status="completed",
                    charge_id=outcome.charge_id,
                    version=payments.c.version + 1,
                )
            )
            self.failpoints.hit("before_commit", conn)
        # tx.Commit() ran as the block closed.
        assert outcome.charge_id is not None
        return completed(payment_id, outcome.charge_id)
