"""charges_aiohttp: an aiohttp.web payment service charging through the Stripe SDK's Charges API
(`python -m tests.services.charges_aiohttp`).

Design: a supervisor binds one socket and starts WORKERS worker processes (`--worker FD PARENT_PID`,
children inheriting the socket) that each run an aiohttp server on it; a dead worker is
replaced. psycopg's AsyncConnection (a statement each, a few kept per event loop and checked
before reuse), the official `stripe` SDK (StripeClient, its aiohttp client, no SDK retries),
table `payment_attempts`. A charge claims the payment
`pending → processing` with a lease (setting `first_attempt_at` once), charges with the
payment's stable Idempotency-Key `pay-<id>`, and records `completed` (200, charge_id = ch_…) or
`failed` on a decline (402); an ambiguous outcome (timeout, reset, 5xx) leaves it `processing`
(202). A reconciler thread in the supervisor re-drives `processing` payments whose lease expired.
Every age and lease is measured on the service's own clock, `service_now()` = now + an offset
stored in the database (so every process sees it).

MODE=correct (default): the re-drive reuses `pay-<id>` while the key is younger than 23 h on the
service's clock; an older key may be forgotten by the provider (24 h), so it first searches
Charges by `metadata['payment_id']` and records a succeeded charge it finds instead of charging
(it also searches after a 5xx, which may be the stored answer of an executed charge). Offers
`POST /_admin/clock {"advance_seconds": N}` → `{"offset_s"}` and `GET /_admin/snapshot`.
MODE=stable_key_forever — flaw: re-drives with `pay-<id>` whatever its age, never searching
first (it does search after a 5xx, as the correct mode). When the provider's 24 h key lifetime
passes between a lost response and the re-drive, the provider no longer knows the key and
charges the card a second time. No admin endpoints.
MODE=fresh_key_redrive — flaw: every re-drive uses a fresh key `pay-<id>-<attempt>`. After a
lost response (the charge executed, the answer never arrived) the re-drive is a new charge: the
card is charged twice. No admin endpoints.
MODE=search_then_new_key — flaw, exposed only by search lag: every re-drive first searches
Charges by `metadata['payment_id']`, records a succeeded charge it finds, and otherwise charges
with a fresh key `pay-<id>-<attempt>` ("nothing there, so the last attempt never charged").
With an immediately consistent search that holds: a charge whose answer was lost (drop_after,
error_after, hang_after, a killed worker) executed before the answer was lost, so the search
made a lease later finds it. But Stripe's search lags writes by up to a minute
(https://docs.stripe.com/search#data-freshness): when the lost answer's charge is not in the
index yet, the search finds nothing and the fresh key charges the card a second time. A
stable key would have made that second attempt a replay. No admin endpoints.

The service exits, with its workers, when its stdin reaches EOF or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import psycopg
import stripe
from aiohttp import web
from psycopg.rows import dict_row

Row = dict[str, Any]
MODES = ("correct", "stable_key_forever", "fresh_key_redrive", "search_then_new_key")
KEY_TRUSTED_S = 23 * 3600  # the provider keeps keys 24 h; past 23 h ask before charging again
MAX_AMOUNT = 99_999_999

SCHEMA = """
CREATE TABLE IF NOT EXISTS payment_attempts (
    id               text PRIMARY KEY,
    amount           integer NOT NULL CHECK (amount > 0),
    currency         text NOT NULL,
    customer         text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    charge_id        text,
    attempts         integer NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS service_clock (
    id       integer PRIMARY KEY CHECK (id = 1),
    offset_s double precision NOT NULL DEFAULT 0
);
INSERT INTO service_clock (id) VALUES (1) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION service_now() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
    SELECT clock_timestamp() + make_interval(secs => (SELECT offset_s FROM service_clock))
$$;
"""
CLAIM = """
UPDATE payment_attempts SET status = 'processing', attempts = attempts + 1,
       first_attempt_at = coalesce(first_attempt_at, service_now()),
       lease_expires_at = service_now() + make_interval(secs => %s),
       updated_at = clock_timestamp()
WHERE id = %s AND status = 'pending' RETURNING *"""
DUE = """
WITH due AS (
    SELECT id FROM payment_attempts
    WHERE status = 'processing' AND lease_expires_at <= service_now()
    ORDER BY lease_expires_at LIMIT 20 FOR UPDATE SKIP LOCKED)
UPDATE payment_attempts p SET attempts = p.attempts + 1,
       lease_expires_at = service_now() + make_interval(secs => %s)
FROM due WHERE p.id = due.id
RETURNING p.*, extract(epoch FROM service_now() - p.first_attempt_at)::float8 AS key_age_s"""
SETTLE = """
UPDATE payment_attempts SET status = %s, charge_id = %s, lease_expires_at = NULL,
       updated_at = clock_timestamp()
WHERE id = %s AND status = 'processing' RETURNING *"""
SELECT = "SELECT * FROM payment_attempts WHERE id = %s"


@dataclass(frozen=True)
class Config:
    """Everything the service reads from its environment."""

    database_url: str
    stripe_url: str
    stripe_key: str
    port: int
    workers: int
    mode: str
    lease_s: float
    provider_timeout_s: float
    reconcile_every_s: float

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        mode = env.get("MODE", "correct")
        if mode not in MODES:
            raise SystemExit(f"MODE must be one of {', '.join(MODES)}, got {mode!r}")
        return cls(
            database_url=env["DATABASE_URL"],
            stripe_url=env["STRIPE_URL"].rstrip("/"),
            stripe_key=env.get("STRIPE_KEY", "sk_test_payrace"),
            port=int(env.get("PORT", "0")),
            workers=max(1, int(env.get("WORKERS", "2"))),
            mode=mode,
            lease_s=float(env.get("LEASE_S", "1.5")),
            provider_timeout_s=float(env.get("PROVIDER_TIMEOUT_S", "1.0")),
            reconcile_every_s=float(env.get("RECONCILE_EVERY_S", "0.2")),
        )


# Connections an event loop keeps between statements, at most this many idle: a connection
# made for every statement cost PostgreSQL a backend process each time (a fork, ~3 ms of CPU),
# five times a second for an idle reconciler alone. Few, so that services side by side stay
# far below the server's connection limit.
IDLE_CONNECTIONS = 2
_idle: dict[asyncio.AbstractEventLoop, list[psycopg.AsyncConnection[Row]]] = {}


async def _checkout(cfg: Config) -> psycopg.AsyncConnection[Row]:
    """An idle connection that still answers, or a new one: each statement meets a live
    connection, as when every statement had its own (a cut connection is dropped here)."""
    idle = _idle.setdefault(asyncio.get_running_loop(), [])
    while idle:
        conn = idle.pop()
        try:
            await conn.execute("")
            return conn
        except psycopg.Error:
            await conn.close()
    return await psycopg.AsyncConnection.connect(
        cfg.database_url, autocommit=True, row_factory=dict_row, connect_timeout=5
    )


async def query(cfg: Config, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
    conn = await _checkout(cfg)
    try:
        cur = await conn.execute(sql, params)
        rows = await cur.fetchall() if cur.description else []
    except BaseException:  # failed or cancelled mid-statement: its state is unknown
        await conn.close()
        raise
    idle = _idle[asyncio.get_running_loop()]
    if len(idle) < IDLE_CONNECTIONS:
        idle.append(conn)
    else:
        await conn.close()
    return rows


async def one(cfg: Config, sql: str, params: tuple[Any, ...]) -> Row | None:
    rows = await query(cfg, sql, params)
    return rows[0] if rows else None


# ---- the provider: Stripe's Charges API through the official SDK ----------------------------


@dataclass(frozen=True)
class Outcome:
    """What an attempt told us: `succeeded`, `declined` or `unknown` (money may have moved)."""

    kind: str
    charge_id: str | None = None
    code: str | None = None
    http_status: int | None = None


class Provider:
    def __init__(self, cfg: Config) -> None:
        self.client = stripe.StripeClient(
            cfg.stripe_key,
            base_addresses={"api": cfg.stripe_url},
            max_network_retries=0,
            http_client=stripe.AIOHTTPClient(
                timeout=aiohttp.ClientTimeout(total=cfg.provider_timeout_s)
            ),
        )

    async def charge(self, payment: Row, key: str) -> Outcome:
        source = "tok_chargeDeclined" if payment["customer"] == "decline" else "tok_visa"
        params: Any = {"amount": payment["amount"], "currency": payment["currency"],
                       "source": source, "metadata": {"payment_id": payment["id"]}}
        try:
            charge = await self.client.v1.charges.create_async(
                params=params, options={"idempotency_key": key}
            )
        except stripe.CardError as exc:
            decline_code = getattr(exc.error, "decline_code", None) if exc.error else None
            return Outcome("declined", code=decline_code or exc.code or "card_declined")
        except stripe.StripeError as exc:  # timeout, reset, 5xx, 409 key in use: unknown
            return Outcome("unknown", code=exc.code or type(exc).__name__,
                           http_status=exc.http_status)
        if charge.status == "succeeded":
            return Outcome("succeeded", charge_id=charge.id)
        return Outcome("declined" if charge.status == "failed" else "unknown",
                       code=charge.failure_code)

    async def find(self, payment_id: str) -> str | None:
        """The id of a succeeded charge carrying `metadata[payment_id]`, if the search finds one."""
        return (await self.search(payment_id))[1]

    async def search(self, payment_id: str) -> tuple[bool, str | None]:
        """(answered, the succeeded charge found): a failed search answered nothing."""
        try:
            found = await self.client.v1.charges.search_async(
                params={"query": f"metadata['payment_id']:'{payment_id}'"}
            )
        except stripe.StripeError:
            return False, None
        return True, next(
            (c.id for c in found.data if c.status == "succeeded" and not c.refunded), None)


def key_for(cfg: Config, payment: Row) -> str:
    fresh = cfg.mode in ("fresh_key_redrive", "search_then_new_key")
    if fresh and payment["attempts"] > 1:
        return f"pay-{payment['id']}-{payment['attempts']}"  # the flaw: a new key per re-drive
    return f"pay-{payment['id']}"


async def redrive(cfg: Config, provider: Provider, payment: Row) -> Outcome:
    """One reconciler attempt at a payment whose lease expired."""
    careful = cfg.mode == "correct"
    if cfg.mode == "search_then_new_key":
        answered, found_id = await provider.search(payment["id"])
        if not answered:  # no answer is no evidence: the lease brings the payment back
            return Outcome("unknown", code="search_failed")
        if found_id:
            return Outcome("succeeded", charge_id=found_id)
        # The flaw: an empty search is trusted, and the fresh key (key_for) charges again.
    elif careful and payment["key_age_s"] >= KEY_TRUSTED_S:  # the provider may forget the key
        found = await provider.find(payment["id"])
        if found:
            return Outcome("succeeded", charge_id=found)
    outcome = await provider.charge(payment, key_for(cfg, payment))
    # stable_key_forever shares this: its one flaw is trusting a key whatever its age.
    looks = careful or cfg.mode == "stable_key_forever"
    if looks and outcome.kind == "unknown" and (outcome.http_status or 0) >= 500:
        # A 5xx on a used key may be the stored answer of a charge that did execute.
        found = await provider.find(payment["id"])
        if found:
            return Outcome("succeeded", charge_id=found)
    return outcome


async def reconcile_forever(cfg: Config, stop: threading.Event) -> None:
    provider = Provider(cfg)
    while not stop.is_set():
        try:
            for payment in await query(cfg, DUE, (cfg.lease_s,)):
                outcome = await redrive(cfg, provider, payment)
                if outcome.kind != "unknown":  # unknown: the extended lease brings it back
                    status = "completed" if outcome.kind == "succeeded" else "failed"
                    await one(cfg, SETTLE, (status, outcome.charge_id, payment["id"]))
        except Exception:
            traceback.print_exc()
        await asyncio.sleep(cfg.reconcile_every_s)


# ---- HTTP ---------------------------------------------------------------------------------

CFG = web.AppKey("cfg", Config)
PROVIDER = web.AppKey("provider", Provider)


def reply(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


def error_body(code: str, provider_code: str | None, message: str) -> dict[str, Any]:
    correlation = f"corr_{secrets.token_hex(8)}"
    return {"error": {"code": code, "provider_code": provider_code,
                      "correlation_id": correlation, "message": message[:300]}}


def public(row: Row) -> Row:
    return {k: row[k] for k in ("id", "status", "charge_id", "amount", "currency")}


def not_found(payment_id: str) -> web.Response:
    return reply(404, {"error": {"code": "not_found", "message": f"No payment {payment_id!r}"}})


def conflict(row: Row) -> web.Response:
    code = "in_progress" if row["status"] in ("pending", "processing") else "already_processed"
    message = f"Payment {row['id']} is {row['status']}"
    return reply(409, {"error": {"code": code, "message": message}, **public(row)})


async def create(request: web.Request) -> web.Response:
    def invalid(field: str, message: str) -> web.Response:
        return reply(422, {"error": {"code": "validation_error", "field": field,
                                     "message": message}})

    try:
        body = await request.json()
    except ValueError:
        return reply(400, {"error": {"code": "bad_request", "message": "The body is not JSON"}})
    if not isinstance(body, dict):
        return invalid("body", "Expected a JSON object")
    amount, currency = body.get("amount"), body.get("currency", "usd")
    customer = body.get("customer")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT:
        return invalid("amount", f"Expected an integer amount in 1..{MAX_AMOUNT} cents")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        return invalid("currency", "Expected a three-letter currency code such as usd")
    if customer is not None and (not isinstance(customer, str) or len(customer) > 255):
        return invalid("customer", "Expected a string of at most 255 characters, or null")
    row = await one(
        request.app[CFG],
        "INSERT INTO payment_attempts (id, amount, currency, customer) "
        "VALUES (%s, %s, %s, %s) RETURNING *",
        ("pa_" + secrets.token_hex(12), amount, currency.lower(), customer),
    )
    assert row is not None
    return reply(201, {k: row[k] for k in ("id", "status", "amount", "currency")})


async def read(request: web.Request) -> web.Response:
    row = await one(request.app[CFG], SELECT, (request.match_info["id"],))
    return not_found(request.match_info["id"]) if row is None else reply(200, public(row))


async def charge(request: web.Request) -> web.Response:
    cfg, payment_id = request.app[CFG], request.match_info["id"]
    payment = await one(cfg, CLAIM, (cfg.lease_s, payment_id))
    if payment is None:
        current = await one(cfg, SELECT, (payment_id,))
        return not_found(payment_id) if current is None else conflict(current)
    outcome = await request.app[PROVIDER].charge(payment, key_for(cfg, payment))
    if outcome.kind == "unknown":  # the reconciler settles it once the lease expires
        return reply(202, {"id": payment_id, "status": "processing"})
    status = "completed" if outcome.kind == "succeeded" else "failed"
    row = await one(cfg, SETTLE, (status, outcome.charge_id, payment_id))
    if row is None:  # settled meanwhile by the reconciler: answer what it recorded
        current = await one(cfg, SELECT, (payment_id,))
        assert current is not None
        if current["status"] != "completed":
            return conflict(current)
        row = current
    if row["status"] == "completed":
        return reply(200, {"id": payment_id, "status": "completed", "charge_id": row["charge_id"]})
    return reply(402, error_body("card_declined", outcome.code, "The card was declined"))


async def advance_clock(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return reply(422, {"error": {"code": "validation_error", "field": "advance_seconds",
                                     "message": 'Expected {"advance_seconds": N} with N >= 0'}})
    row = await one(request.app[CFG], "UPDATE service_clock SET offset_s = offset_s + %s "
                    "RETURNING offset_s", (float(seconds),))
    assert row is not None
    return reply(200, {"offset_s": row["offset_s"]})


async def snapshot(request: web.Request) -> web.Response:
    rows = await query(request.app[CFG], "SELECT * FROM payment_attempts ORDER BY created_at")
    return reply(200, {"payments": [public(row) for row in rows]})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except psycopg.Error as exc:
        return reply(503, error_body("database_error", None, str(exc).strip()))
    except Exception as exc:
        traceback.print_exc()
        return reply(500, error_body("internal_error", None, repr(exc)))


async def serve(sock: socket.socket, cfg: Config, parent: int) -> None:
    """One worker: an aiohttp server on the inherited socket until the supervisor goes away."""
    app = web.Application(middlewares=[errors])
    app[CFG], app[PROVIDER] = cfg, Provider(cfg)
    app.router.add_post("/payments", create)
    app.router.add_post("/payments/{id}/charge", charge)
    app.router.add_get("/payments/{id}", read)
    if cfg.mode == "correct":
        app.router.add_post("/_admin/clock", advance_clock)
        app.router.add_get("/_admin/snapshot", snapshot)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    while os.getppid() == parent:  # an orphan (supervisor SIGKILLed) ends itself
        await asyncio.sleep(0.5)


# ---- supervisor ---------------------------------------------------------------------------


def start_worker(sock: socket.socket) -> subprocess.Popen[bytes]:
    fd = sock.fileno()
    argv = [sys.executable, __file__, "--worker", str(fd), str(os.getpid())]
    return subprocess.Popen(argv, pass_fds=(fd,), stdin=subprocess.DEVNULL)


def exit_at_eof(stop: threading.Event) -> None:
    """The launcher holds our stdin: its end (even a SIGKILLed launcher's) stops the service."""
    sys.stdin.buffer.read()
    stop.set()


def main() -> None:
    cfg = Config.from_env()
    if sys.argv[1:2] == ["--worker"]:
        fd, parent = int(sys.argv[2]), int(sys.argv[3])
        asyncio.run(serve(socket.socket(fileno=fd), cfg, parent))
        return
    with psycopg.connect(cfg.database_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    sock = socket.create_server(("127.0.0.1", cfg.port), backlog=256)
    workers = [start_worker(sock) for _ in range(cfg.workers)]
    print(f"LISTENING http://127.0.0.1:{sock.getsockname()[1]} PID {os.getpid()}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=exit_at_eof, args=(stop,), daemon=True).start()
    threading.Thread(target=asyncio.run, args=(reconcile_forever(cfg, stop),), daemon=True).start()
    try:
        while not stop.wait(0.1):
            for i, proc in enumerate(workers):
                if proc.poll() is not None:  # crashed or killed: start a replacement
                    workers[i] = start_worker(sock)
    finally:
        stop.set()
        for proc in workers:  # SIGTERM keeps its default action in a worker: it ends now
            proc.terminate()
        for proc in workers:
            proc.wait()


if __name__ == "__main__":
    main()
