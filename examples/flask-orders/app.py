"""flask-orders: a Flask order API paying via Stripe PaymentIntents, correct or flawed (MODE)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import stripe
from flask import Flask, request
from psycopg.rows import dict_row
from werkzeug.exceptions import HTTPException

Row = dict[str, Any]
MODES = ("correct", "flawed")
MAX_AMOUNT = 99_999_999
LOG = logging.getLogger("flask-orders")


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment (serve.py reads a few more)."""

    database_url: str
    stripe_url: str
    stripe_key: str
    mode: str
    lease_s: float
    provider_timeout_s: float
    reconcile_every_s: float

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        mode = env.get("MODE", "correct")
        if mode not in MODES:
            raise SystemExit(f"MODE must be one of {', '.join(MODES)}, got {mode!r}")
        return cls(
            database_url=env["DATABASE_URL"],
            stripe_url=env.get("STRIPE_URL", "http://127.0.0.1:12111").rstrip("/"),
            stripe_key=env.get("STRIPE_KEY", "sk_test_payrace"),
            mode=mode,
            lease_s=float(env.get("LEASE_S", "1.5")),
            provider_timeout_s=float(env.get("PROVIDER_TIMEOUT_S", "1.0")),
            reconcile_every_s=float(env.get("RECONCILE_EVERY_S", "0.2")),
        )


SETTINGS = Settings.from_env()

# The one setting that points the official SDK at payrace's stand-in (or at api.stripe.com).
# No SDK retries: a retry inside the SDK would hide a lost response from the code below, and
# the code below is what has to be right about it. A short timeout keeps a worker from hanging.
STRIPE = stripe.StripeClient(
    SETTINGS.stripe_key,
    base_addresses={"api": SETTINGS.stripe_url},
    max_network_retries=0,
    http_client=stripe.RequestsClient(timeout=SETTINGS.provider_timeout_s),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    uuid                  uuid PRIMARY KEY,
    amount_cents          integer NOT NULL CHECK (amount_cents > 0),
    currency              text NOT NULL,
    customer_ref          text,
    state                 text NOT NULL DEFAULT 'new'
                          CHECK (state IN ('new', 'paying', 'paid', 'declined')),
    stripe_payment_intent text,
    stripe_charge         text,
    pay_attempts          integer NOT NULL DEFAULT 0,
    lease_until           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    paid_at               timestamptz
)"""
# new → paying, once: whoever gets the row back owns this order's payment until the lease ends.
CLAIM = """
UPDATE orders SET state = 'paying', pay_attempts = pay_attempts + 1,
       lease_until = clock_timestamp() + make_interval(secs => %s)
WHERE uuid = %s AND state = 'new' RETURNING *"""
# One `paying` order whose owner went quiet (timeout, crash, killed worker); SKIP LOCKED and
# the renewed lease keep two reconcilers off the same order.
DUE = """
WITH due AS (
    SELECT uuid FROM orders WHERE state = 'paying' AND lease_until <= clock_timestamp()
    ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE orders o SET pay_attempts = o.pay_attempts + 1,
       lease_until = clock_timestamp() + make_interval(secs => %s)
FROM due WHERE o.uuid = due.uuid RETURNING o.*"""
# Only the first PaymentIntent stored for an order is ever confirmed (see `drive`).
REMEMBER_INTENT = """
UPDATE orders SET stripe_payment_intent = coalesce(stripe_payment_intent, %s)
WHERE uuid = %s RETURNING stripe_payment_intent"""
SETTLE = """
UPDATE orders SET state = %s, stripe_charge = %s, lease_until = NULL,
       paid_at = CASE WHEN %s::text = 'paid' THEN clock_timestamp() END
WHERE uuid = %s AND state = 'paying' RETURNING *"""
SELECT = "SELECT * FROM orders WHERE uuid = %s"


@contextmanager
def db() -> Iterator[psycopg.Connection[Row]]:
    """One connection per use: commits on success, rolls back on an exception, then closes.

    No pool, on purpose: a connection the database terminated is never handed out again.
    """
    with psycopg.connect(
        SETTINGS.database_url, row_factory=dict_row, connect_timeout=5
    ) as conn:
        yield conn


def one(sql: str, params: tuple[Any, ...]) -> Row | None:
    with db() as conn:
        return conn.execute(sql, params).fetchone()


def create_schema() -> None:
    with db() as conn:
        conn.execute(SCHEMA)


# ---- Stripe ---------------------------------------------------------------------------------


def payment_method(order: Row) -> str:
    """Stripe's always-declined test card for customer "decline" (how payrace drives declines)."""
    return "pm_card_chargeDeclined" if order["customer_ref"] == "decline" else "pm_card_visa"


def intent_params(order: Row, *, confirm: bool) -> Any:
    return {
        "amount": order["amount_cents"],
        "currency": order["currency"],
        "payment_method": payment_method(order),
        "confirm": confirm,
        # How the provider's ledger is tied back to the order (payrace reads it too).
        "metadata": {"payment_id": str(order["uuid"])},
    }


@dataclass(frozen=True)
class Outcome:
    """What Stripe told us: `paid`, `declined`, or `unknown` (money may or may not have moved)."""

    kind: str
    intent_id: str | None = None


UNKNOWN = Outcome("unknown")


def judge_intent(intent: stripe.PaymentIntent) -> Outcome:
    if intent.status == "succeeded":
        return Outcome("paid", intent.id)
    # We always create with a payment method, so this status means a confirm was declined.
    if intent.status == "requires_payment_method":
        return Outcome("declined", intent.id)
    return Outcome("unknown", intent.id)


def look(intent_id: str) -> Outcome:
    """Ask Stripe what became of a PaymentIntent; on any error we still do not know."""
    try:
        return judge_intent(STRIPE.v1.payment_intents.retrieve(intent_id))
    except stripe.StripeError:
        return UNKNOWN


def drive(order: Row) -> Outcome:
    """Correct mode: take one `paying` order as far as Stripe lets us, never charging twice.

    Two phases. The PaymentIntent is created unconfirmed (no money moves) and its id stored
    before it is confirmed, so every later attempt (a retry, the reconciler after a lost
    response, a killed worker, keys the provider forgot after 24 h) looks at *that* intent
    first; a PaymentIntent succeeds at most once, whoever confirms it and under whatever key.
    Stripe's search lags writes by up to a minute (the stand-in's search_lag fault shows it), so
    we never rely on searching by metadata to find a charge: we keep the id.
    """
    order_id = str(order["uuid"])
    intent_id = order["stripe_payment_intent"]
    if intent_id is not None:
        seen = look(intent_id)
        if seen.kind != "unknown":
            return seen  # already paid or declined: adopt it, do not confirm again
    else:
        try:
            # One stable key per order: a lost answer is replayed rather than a second intent.
            created = STRIPE.v1.payment_intents.create(
                params=intent_params(order, confirm=False),
                options={"idempotency_key": f"order-{order_id}-intent"},
            )
        except stripe.StripeError:
            return UNKNOWN  # nothing was confirmed: the next attempt creates (or replays) it
        stored = one(REMEMBER_INTENT, (created.id, order_id))
        # Two attempts raced (the provider forgot the key between them): keep the first one's.
        intent_id = stored["stripe_payment_intent"] if stored else created.id
    try:
        confirmed = STRIPE.v1.payment_intents.confirm(
            intent_id, options={"idempotency_key": f"order-{order_id}-confirm"}
        )
    except stripe.CardError:
        return Outcome("declined", intent_id)
    except stripe.StripeError:
        # A timeout, a reset, a 5xx, "already succeeded": the intent itself knows the truth.
        return look(intent_id)
    return judge_intent(confirmed)


def settle(order_id: str, outcome: Outcome) -> Row | None:
    """Record a final outcome; None when someone else (the reconciler) recorded it first."""
    state = "paid" if outcome.kind == "paid" else "declined"
    charge = outcome.intent_id if outcome.kind == "paid" else None
    return one(SETTLE, (state, charge, state, order_id))


def reconcile_once() -> int:
    """Re-drive every `paying` order whose lease expired; return how many were looked at."""
    handled = 0
    while (order := one(DUE, (SETTINGS.lease_s,))) is not None:
        handled += 1
        outcome = drive(order)
        if outcome.kind != "unknown":  # unknown: the renewed lease brings it back later
            settle(str(order["uuid"]), outcome)
    return handled


def reconcile_forever(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            reconcile_once()
        except psycopg.Error as exc:  # a database blip must not end the reconciler
            LOG.warning("reconciler: database error, retrying: %s", exc)
        except Exception:
            LOG.exception("reconciler pass failed")
        stop.wait(SETTINGS.reconcile_every_s)


def start_reconciler() -> threading.Event:
    """A daemon thread re-driving stuck orders; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=reconcile_forever, args=(stop,), name="reconciler",
                     daemon=True).start()
    return stop


# ---- HTTP -----------------------------------------------------------------------------------

app = Flask(__name__)
Reply = tuple[dict[str, Any], int]


def order_view(row: Row, *, full: bool = True) -> dict[str, Any]:
    view = {"uuid": str(row["uuid"]), "state": row["state"], "amount": row["amount_cents"],
            "currency": row["currency"]}
    if full:
        view["stripe_charge"] = row["stripe_charge"]
    return view


def error(code: str, status: int) -> Reply:
    return {"error": code}, status


def find(order_id: str) -> Row | None:
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        return None  # not a uuid, so not an order of ours
    return one(SELECT, (key,))


def refusal(row: Row | None) -> Reply:
    """Why an order cannot be paid now."""
    if row is None:
        return error("not_found", 404)
    if row["state"] == "paid":
        return error("already_paid", 409)
    if row["state"] == "declined":
        return error("card_declined", 400)
    return error("order_in_progress", 409)


def answer(row: Row) -> Reply:
    if row["state"] == "paid":
        return {"paid": True, "stripe_charge": row["stripe_charge"]}, 200
    return refusal(row)


@app.post("/api/v1/orders")
def create_order() -> Reply:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("expected a JSON object", 422)
    amount, currency = body.get("amount"), body.get("currency", "usd")
    customer = body.get("customer")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT:
        return error(f"amount must be an integer in 1..{MAX_AMOUNT} (cents)", 422)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        return error("currency must be a three-letter code such as usd", 422)
    if customer is not None and (not isinstance(customer, str) or len(customer) > 255):
        return error("customer must be a string of at most 255 characters, or null", 422)
    row = one(
        "INSERT INTO orders (uuid, amount_cents, currency, customer_ref) "
        "VALUES (%s, %s, %s, %s) RETURNING *",
        (uuid.uuid4(), amount, currency.lower(), customer),
    )
    assert row is not None
    return {"order": order_view(row, full=False)}, 201


@app.get("/api/v1/orders/<order_id>")
def read_order(order_id: str) -> Reply:
    row = find(order_id)
    return ({"order": order_view(row)}, 200) if row is not None else error("not_found", 404)


@app.post("/api/v1/orders/<order_id>/pay")
def pay_order(order_id: str) -> Reply:
    # The order is the unit of idempotency: a client's Idempotency-Key header is accepted but
    # not needed, since an order can be claimed for payment only once.
    if find(order_id) is None:
        return error("not_found", 404)
    return pay_flawed(order_id) if SETTINGS.mode == "flawed" else pay_correct(order_id)


def pay_correct(order_id: str) -> Reply:
    order = one(CLAIM, (SETTINGS.lease_s, order_id))
    if order is None:
        return refusal(find(order_id))
    outcome = drive(order)
    if outcome.kind == "unknown":
        # Money may have moved: the order stays `paying` and only the reconciler, which looks
        # at the stored PaymentIntent first, may finish it.
        return {"paid": False, "state": "paying"}, 202
    row = settle(order_id, outcome) or find(order_id)  # the reconciler may have been first
    assert row is not None
    return answer(row)


def pay_flawed(order_id: str) -> Reply:
    """PR #145: lock the row, charge with no idempotency key, and roll back on any error.

    The lock does stop two concurrent clicks, but a charge whose answer was lost (timeout,
    5xx after the charge, a killed worker) is rolled back to `new`, and the client's retry
    charges the card again.
    """
    with db() as conn:
        row = conn.execute(SELECT + " FOR UPDATE", (order_id,)).fetchone()
        if row is None or row["state"] != "new":
            return refusal(row)
        try:
            intent = STRIPE.v1.payment_intents.create(params=intent_params(row, confirm=True))
        except stripe.CardError:
            conn.execute("UPDATE orders SET state = 'declined' WHERE uuid = %s", (order_id,))
            return error("card_declined", 400)
        except stripe.StripeError:
            conn.rollback()  # the flaw: "nothing happened", so the client may pay again
            return error("payment_failed", 502)
        if intent.status != "succeeded":
            conn.rollback()
            return error("payment_failed", 502)
        conn.execute(
            "UPDATE orders SET state = 'paid', stripe_charge = %s, paid_at = clock_timestamp() "
            "WHERE uuid = %s",
            (intent.id, order_id),
        )
    return {"paid": True, "stripe_charge": intent.id}, 200


@app.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Reply:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code or 500, exc.name)
    return error(code, exc.code or 500)


@app.errorhandler(psycopg.Error)
def database_error(exc: psycopg.Error) -> Reply:
    LOG.warning("database error: %s", exc)
    return error("database_unavailable", 503)


@app.errorhandler(Exception)
def internal_error(exc: Exception) -> Reply:
    LOG.exception("unhandled error")
    return error("internal_error", 500)


def wait_for_database(timeout_s: float = 30.0) -> None:
    """Create the schema, retrying while the database is still starting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            create_schema()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
