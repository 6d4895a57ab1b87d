"""inprocess_payments: a payment service object for `--target python:…inprocess_payments:F`.

Design: one `Payments` instance per simulated worker, all on the database and stand-in payrace
gives the factory (`factory(database_url, stripe_url)`). psycopg, one connection per call (so a
dropped connection costs one call), the official `stripe` SDK (StripeClient, no SDK retries,
1 s timeout), table `inproc_payments`, created by the factory itself. A charge claims the payment
`pending → processing` with a lease (a second concurrent charge gets 409), charges, and records
`completed` (200) or `failed` on a decline (402); an unknown outcome (timeout, lost response,
5xx) leaves it `processing` with its lease released (202), so the next charge re-drives it.
`reconcile(force)` re-drives every processing payment whose lease expired (all, when forced) by
searching Charges by `metadata['payment_id']` first and charging with the stable key only when
none is found; forced, it asks again for a few seconds while the outcome stays unknown (an
earlier request may still be on its way: the provider answers "key in use").

Factories: `correct` — every charge uses the payment's stable Idempotency-Key `pay-<id>`, and a
re-drive searches by metadata before charging (a key the provider forgot after 24 h cannot make
it charge twice); offers `snapshot()`. `flawed` — a re-drive after an unknown outcome charges
again with no idempotency key of its own (the SDK sends a fresh random one) and no search: after
a lost response the card is charged twice.
`late` — correct, but charges only when its database view is read next (a background
worker's timing). `raising` — the factory raises. `lacking` — returns an object without `charge`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import stripe
from psycopg.rows import dict_row

Row = dict[str, Any]
LEASE_S = 30.0  # a charge in flight holds its payment this long; released on an unknown outcome
PROVIDER_TIMEOUT_S = 1.0
REDRIVE_TRIES, REDRIVE_PAUSE_S = 10, 0.3
_SCHEMA_LOCK = 0x696E70726F63  # serialises CREATE TABLE across the instances starting together
SCHEMA = """
CREATE TABLE IF NOT EXISTS inproc_payments (
    id               text PRIMARY KEY,
    amount           integer NOT NULL CHECK (amount > 0),
    currency         text NOT NULL,
    customer         text,
    status           text NOT NULL DEFAULT 'pending',
    charge_id        text,
    attempts         integer NOT NULL DEFAULT 0,
    lease_expires_at timestamptz
)"""
CLAIM = """
UPDATE inproc_payments SET status = 'processing', attempts = attempts + 1,
       lease_expires_at = clock_timestamp() + make_interval(secs => %s)
WHERE id = %s AND (status = 'pending'
                   OR (status = 'processing' AND lease_expires_at <= clock_timestamp()))
RETURNING *"""
DUE = """
UPDATE inproc_payments SET attempts = attempts + 1,
       lease_expires_at = clock_timestamp() + make_interval(secs => %s)
WHERE id IN (SELECT id FROM inproc_payments WHERE status = 'processing'
             AND (%s OR lease_expires_at <= clock_timestamp()) FOR UPDATE SKIP LOCKED)
RETURNING *"""
FINISH = """
UPDATE inproc_payments SET status = %s, charge_id = %s, lease_expires_at = NULL
WHERE id = %s AND status = 'processing' RETURNING *"""
RELEASE = (
    "UPDATE inproc_payments SET lease_expires_at = clock_timestamp() WHERE id = %s RETURNING id"
)
PUBLIC = ("id", "status", "charge_id", "amount", "currency")


def _public(row: Row) -> Row:
    return {k: row[k] for k in PUBLIC}


class Payments:
    """One worker's instance: thread-safe (nothing shared but the database and the SDK client)."""

    def __init__(self, database_url: str, stripe_url: str, *, flawed: bool) -> None:
        self.database_url = database_url
        self.flawed = flawed
        self.client = stripe.StripeClient(
            "sk_test_payrace",
            base_addresses={"api": stripe_url},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=PROVIDER_TIMEOUT_S),
        )
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Row]]:
        with psycopg.connect(
            self.database_url, autocommit=True, row_factory=dict_row, connect_timeout=5
        ) as conn:
            yield conn

    def _one(self, sql: str, params: tuple[Any, ...]) -> Row | None:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchone()

    # ---- the protocol ------------------------------------------------------------------------

    def create_payment(self, amount: int, currency: str, customer: str | None) -> Row:
        pid = f"pay_{secrets.token_hex(8)}"
        row = self._one(
            "INSERT INTO inproc_payments (id, amount, currency, customer) "
            "VALUES (%s, %s, %s, %s) RETURNING *",
            (pid, amount, currency, customer),
        )
        assert row is not None
        return _public(row)

    def charge(self, payment_id: str, idempotency_key: str | None) -> tuple[int, Row]:
        payment = self._one(CLAIM, (LEASE_S, payment_id))
        if payment is None:
            return self._unclaimed(payment_id)
        redrive = payment["attempts"] > 1
        if self.flawed:
            # The flaw: "the last attempt failed", so charge again, with no key and no search.
            key = None if redrive else f"pay-{payment_id}"
            return self._settle(payment, self._charge(payment, key))
        return self._settle(payment, self._redrive(payment) if redrive else
                            self._charge(payment, f"pay-{payment_id}"))

    def _unclaimed(self, payment_id: str) -> tuple[int, Row]:
        """The answer to a charge that could not claim the payment: unknown, or not pending."""
        row = self._one("SELECT * FROM inproc_payments WHERE id = %s", (payment_id,))
        if row is None:
            return 404, {"error": {"code": "not_found"}}
        return 409, {"error": {"code": f"payment is {row['status']}"}, **_public(row)}

    def get_payment(self, payment_id: str) -> Row | None:
        row = self._one("SELECT * FROM inproc_payments WHERE id = %s", (payment_id,))
        return None if row is None else _public(row)

    def reconcile(self, force: bool = False) -> dict[str, int]:
        with self._conn() as conn:
            due = conn.execute(DUE, (LEASE_S, force)).fetchall()
        done = 0
        for payment in due:
            outcome = self._redrive(payment)
            # A request of an earlier attempt may still be on its way to the provider (its
            # key "in use"): ask again for a while rather than leave a charged payment behind.
            for _ in range(REDRIVE_TRIES if force else 0):
                if outcome[0] != "unknown":  # "stuck": the key's stored error, asked again
                    break
                time.sleep(REDRIVE_PAUSE_S)
                outcome = self._redrive(payment)
            status, _ = self._settle(payment, outcome)
            done += status in (200, 402)
        return {"due": len(due), "finished": done}

    # ---- the provider ------------------------------------------------------------------------

    def _redrive(self, payment: Row) -> tuple[str, str | None]:
        """An earlier attempt's outcome is unknown: look for its charge before charging."""
        try:
            found = self.client.v1.charges.search(
                params={"query": f"metadata['payment_id']:'{payment['id']}'"}
            )
        except stripe.StripeError:
            return "unknown", None
        for charge in found.data:
            if charge.status == "succeeded" and not charge.refunded:
                return "succeeded", str(charge.id)
        return self._charge(payment, f"pay-{payment['id']}")

    def _charge(self, payment: Row, key: str | None) -> tuple[str, str | None]:
        source = "tok_chargeDeclined" if payment["customer"] == "decline" else "tok_visa"
        params: Any = {"amount": payment["amount"], "currency": payment["currency"],
                       "source": source, "metadata": {"payment_id": payment["id"]}}
        options: Any = {"idempotency_key": key} if key else {}
        try:
            charge = self.client.v1.charges.create(params=params, options=options)
        except stripe.CardError:
            return "declined", None
        except stripe.StripeError as exc:  # timeout, reset, 5xx, key in use: money may have moved
            headers = exc.headers or {}
            replayed = str(headers.get("Idempotent-Replayed", "")).lower() == "true"
            # A replayed error is the key's stored answer: asking again now changes nothing.
            return ("stuck" if replayed else "unknown"), None
        return ("succeeded", str(charge.id)) if charge.status == "succeeded" else ("unknown", None)

    def _settle(self, payment: Row, outcome: tuple[str, str | None]) -> tuple[int, Row]:
        kind, charge_id = outcome
        if kind in ("unknown", "stuck"):
            self._one(RELEASE, (payment["id"],))
            return 202, {"id": payment["id"], "status": "processing"}
        status = "completed" if kind == "succeeded" else "failed"
        row = self._one(FINISH, (status, charge_id, payment["id"]))
        if row is None:  # someone else finished it meanwhile
            return 409, {"id": payment["id"], "error": {"code": "finished elsewhere"}}
        return (200 if status == "completed" else 402), _public(row)


class CorrectPayments(Payments):
    """The correct design, plus the optional database view."""

    def snapshot(self) -> list[Row]:
        with self._conn() as conn:
            return [_public(r) for r in conn.execute("SELECT * FROM inproc_payments").fetchall()]


def correct(database_url: str, stripe_url: str) -> Payments:
    return CorrectPayments(database_url, stripe_url, flawed=False)


class LatePayments(CorrectPayments):
    """Charges in the background, as a queue worker would: `charge` only claims the payment
    (202, processing); the charge itself is made, with the stable key, the moment before the
    next database view is read, the worst moment for a harness that reads the ledger first."""

    # No reconcile to offer: the view is the only thing that makes it charge.
    reconcile = None  # type: ignore[assignment]

    def charge(self, payment_id: str, idempotency_key: str | None) -> tuple[int, Row]:
        if self._one(CLAIM, (LEASE_S, payment_id)) is None:
            return self._unclaimed(payment_id)
        return 202, {"id": payment_id, "status": "processing"}

    def snapshot(self) -> list[Row]:
        with self._conn() as conn:
            queued = conn.execute("SELECT * FROM inproc_payments WHERE status = 'processing'"
                                  ).fetchall()
        for payment in queued:
            self._settle(payment, self._redrive(payment))
        return super().snapshot()


def late(database_url: str, stripe_url: str) -> Payments:
    return LatePayments(database_url, stripe_url, flawed=False)


class DyingPayments(CorrectPayments):
    """The correct design until its `LIVES`th payment; then it is gone, as a killed service
    is: every create fails (connection refused) and nothing more can be explored."""

    LIVES = 30
    created = 0  # across the target's workers: they live in one process
    _lock = threading.Lock()

    def create_payment(self, amount: int, currency: str, customer: str | None) -> Row:
        cls = type(self)
        with cls._lock:
            cls.created += 1
            if cls.created > cls.LIVES:
                raise ConnectionRefusedError("[Errno 111] Connection refused (the service died)")
        return super().create_payment(amount, currency, customer)


class LateDyingPayments(DyingPayments):
    """Gone after its 90th payment: late in a 60-example search (about 134 creates with
    --seed 1), when most of the creates have held."""

    LIVES = 90
    created = 0


def dying(database_url: str, stripe_url: str) -> Payments:
    return DyingPayments(database_url, stripe_url, flawed=False)


def dying_late(database_url: str, stripe_url: str) -> Payments:
    return LateDyingPayments(database_url, stripe_url, flawed=False)


def flawed(database_url: str, stripe_url: str) -> Payments:
    return Payments(database_url, stripe_url, flawed=True)


def raising(database_url: str, stripe_url: str) -> Payments:
    raise RuntimeError("inprocess_payments: no STRIPE_KEY configured (on purpose)")


class _NoCharge:
    def create_payment(self, amount: int, currency: str, customer: str | None) -> Row:
        return {}

    def get_payment(self, payment_id: str) -> Row | None:
        return None


def lacking(database_url: str, stripe_url: str) -> object:
    return _NoCharge()
