"""orders_threads: a payment service on the stdlib's ThreadingHTTPServer, charging through
two-phase Stripe PaymentIntents (`python -m tests.services.orders_threads`).

Design: a supervisor binds one socket, pre-forks WORKERS processes (os.fork) that serve it with
ThreadingHTTPServer, and replaces any worker that dies. Raw psycopg 3 (autocommit, a statement
at a time, a few connections kept per process and checked before reuse), httpx form posts to
the provider (no Stripe SDK), table `orders`. A charge
1. claims the order `pending → processing` with a lease (one `UPDATE … WHERE state='pending'`);
2. creates the PaymentIntent unconfirmed (Idempotency-Key `ord-<id>-create`), stores its id;
3. confirms it (key `ord-<id>-confirm`) and records `completed` with charge_id = the pi_… id
   (200), or `failed` on a decline (402). An ambiguous answer (timeout, reset, 5xx) leaves the
   order `processing` under its lease and answers 202.
The supervisor's reconciler thread takes `processing` orders whose lease expired (FOR UPDATE
SKIP LOCKED, extending the lease), redoes the create with the same key when no PaymentIntent id
was stored, then asks the PaymentIntent itself: succeeded → completed, requires_confirmation →
confirm, declined → failed. The stored PaymentIntent and its status are the truth, so no
re-drive charges twice, even after the provider forgot the keys (its clock moved past 24 h).

MODE=correct (default): as above.
MODE=ambiguous_failed — flaw: an ambiguous provider outcome is recorded `failed` and answered
502. When the confirm executed but its answer was lost, the card is charged while the order says
failed, and a retry of the failed order is refused (409): the customer loses the money for an
order the shop believes unpaid (or pays twice by placing the order again).

Only the three contract endpoints exist; every other path is 404. The service exits, with its
workers, when its stdin reaches EOF or on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

Row = dict[str, Any]
Reply = tuple[int, dict[str, Any]]
MODES = ("correct", "ambiguous_failed")
DECLINING_CUSTOMER = "decline"
MAX_AMOUNT = 99_999_999

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id          text PRIMARY KEY,
    amount      integer NOT NULL CHECK (amount > 0),
    currency    text NOT NULL,
    customer    text,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'processing', 'completed', 'failed')),
    pi_id       text,
    charge_ref  text,
    lease_until timestamptz,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
)"""
CLAIM = """
UPDATE orders SET state = 'processing', updated_at = clock_timestamp(),
       lease_until = clock_timestamp() + make_interval(secs => %s)
WHERE id = %s AND state = 'pending' RETURNING *"""
DUE = """
WITH due AS (
    SELECT id FROM orders WHERE state = 'processing' AND lease_until < clock_timestamp()
    ORDER BY lease_until LIMIT 20 FOR UPDATE SKIP LOCKED)
UPDATE orders o SET lease_until = clock_timestamp() + make_interval(secs => %s)
FROM due WHERE o.id = due.id RETURNING o.*"""
SETTLE = """
UPDATE orders SET state = %s, charge_ref = %s, lease_until = NULL, updated_at = clock_timestamp()
WHERE id = %s AND state = 'processing' RETURNING *"""


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


def connect(cfg: Config) -> psycopg.Connection[Row]:
    return psycopg.connect(
        cfg.database_url, autocommit=True, row_factory=dict_row, connect_timeout=5
    )


# Connections a process keeps between statements, at most this many idle: a connection made
# for every statement cost PostgreSQL a backend process each time (a fork, ~3 ms of CPU), five
# times a second for an idle reconciler alone. Few, so that services side by side stay far
# below the server's connection limit. By process id: a forked worker never touches the
# supervisor's (it inherits them, unused, until it exits).
IDLE_CONNECTIONS = 2
_idle: dict[int, list[psycopg.Connection[Row]]] = {}
_idle_lock = threading.Lock()


def _checkout(cfg: Config) -> psycopg.Connection[Row]:
    """An idle connection that still answers, or a new one: each statement meets a live
    connection, as when every statement had its own (a cut connection is dropped here)."""
    while True:
        with _idle_lock:
            idle = _idle.setdefault(os.getpid(), [])
            if not idle:
                break
            conn = idle.pop()
        try:
            conn.execute("")
            return conn
        except psycopg.Error:
            conn.close()
    return connect(cfg)


def rows(cfg: Config, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
    """One autocommitted statement's rows."""
    conn = _checkout(cfg)
    try:
        cur = conn.execute(sql, params)
        found = cur.fetchall() if cur.description else []
    except BaseException:  # failed mid-statement: the connection's state is unknown
        conn.close()
        raise
    with _idle_lock:
        idle = _idle.setdefault(os.getpid(), [])
        if len(idle) < IDLE_CONNECTIONS:
            idle.append(conn)
            return found
    conn.close()
    return found


def one(cfg: Config, sql: str, params: tuple[Any, ...]) -> Row | None:
    found = rows(cfg, sql, params)
    return found[0] if found else None


# ---- the provider: Stripe's PaymentIntents over plain form posts ----------------------------


class Declined(Exception):
    """The provider refused the card: certainly no money moved."""


class Ambiguous(Exception):
    """No answer, or one that does not say whether money moved (timeout, reset, 5xx, 409)."""


class UnexpectedState(Exception):
    """A confirm refused because the PaymentIntent is no longer confirmable."""


class Provider:
    """PaymentIntents create / confirm / retrieve, every answer sorted into an outcome."""

    def __init__(self, cfg: Config) -> None:
        self.http = httpx.Client(
            base_url=cfg.stripe_url,
            timeout=cfg.provider_timeout_s,
            headers={"Authorization": f"Bearer {cfg.stripe_key}"},
        )

    def _call(self, method: str, path: str, data: dict[str, str] | None, key: str | None) -> Row:
        headers = {"Idempotency-Key": key} if key else {}
        try:
            resp = self.http.request(method, path, data=data, headers=headers)
        except httpx.HTTPError as exc:  # timeout, reset, refused: it may well have executed
            raise Ambiguous(f"{type(exc).__name__}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code == 200:
            return dict(body)
        error = body.get("error") or {} if isinstance(body, dict) else {}
        if resp.status_code == 402:
            raise Declined(error.get("decline_code") or error.get("code") or "card_declined")
        if resp.status_code == 400 and error.get("code") == "payment_intent_unexpected_state":
            raise UnexpectedState(error.get("message", ""))
        raise Ambiguous(f"HTTP {resp.status_code} {error.get('code') or error.get('type')}")

    def create_intent(self, order: Row) -> Row:
        declining = order["customer"] == DECLINING_CUSTOMER
        data = {
            "amount": str(order["amount"]),
            "currency": order["currency"],
            "payment_method": "pm_card_chargeDeclined" if declining else "pm_card_visa",
            "confirm": "false",
            "metadata[payment_id]": order["id"],
        }
        return self._call("POST", "/v1/payment_intents", data, f"ord-{order['id']}-create")

    def confirm(self, pi_id: str, order_id: str) -> Row:
        path = f"/v1/payment_intents/{pi_id}/confirm"
        try:
            return self._call("POST", path, {}, f"ord-{order_id}-confirm")
        except UnexpectedState:  # already succeeded or declined: look it up instead
            return self.retrieve(pi_id)

    def retrieve(self, pi_id: str) -> Row:
        return self._call("GET", f"/v1/payment_intents/{pi_id}", None, None)


def verdict(intent: Row) -> tuple[str, str | None] | None:
    """What a PaymentIntent says about its order: (state, charge_ref), or None if unsettled."""
    if intent.get("status") == "succeeded":
        return "completed", str(intent["id"])
    if intent.get("status") == "requires_payment_method" and intent.get("last_payment_error"):
        return "failed", None
    return None


# ---- the order flow -------------------------------------------------------------------------


def error_body(code: str, provider_code: str | None, message: str) -> dict[str, Any]:
    correlation = f"corr_{secrets.token_hex(8)}"
    return {"error": {"code": code, "provider_code": provider_code,
                      "correlation_id": correlation, "message": message[:300]}}


def conflict(order: Row) -> Reply:
    state = order["state"]
    code = "in_progress" if state in ("pending", "processing") else "already_processed"
    return 409, {"error": {"code": code, "message": f"Order {order['id']} is {state}"},
                 "id": order["id"], "status": state, "charge_id": order["charge_ref"]}


def ensure_intent(cfg: Config, provider: Provider, order: Row) -> str:
    """The order's PaymentIntent id: the stored one, or one made (and stored) with its key."""
    if order["pi_id"]:
        return str(order["pi_id"])
    intent = provider.create_intent(order)
    row = one(cfg, "UPDATE orders SET pi_id = coalesce(pi_id, %s) WHERE id = %s RETURNING pi_id",
              (intent["id"], order["id"]))
    assert row is not None
    return str(row["pi_id"])


def finish(cfg: Config, order_id: str, state: str, ref: str | None, reply: Reply) -> Reply:
    """Record the final state and answer `reply`; if another actor settled it first, the truth."""
    if one(cfg, SETTLE, (state, ref, order_id)) is not None:
        return reply
    current = one(cfg, "SELECT * FROM orders WHERE id = %s", (order_id,))
    assert current is not None
    if current["state"] == "completed":
        return 200, {"id": order_id, "status": "completed", "charge_id": current["charge_ref"]}
    return conflict(current)


def charge(cfg: Config, provider: Provider, order_id: str) -> Reply:
    order = one(cfg, CLAIM, (cfg.lease_s, order_id))
    if order is None:
        current = one(cfg, "SELECT * FROM orders WHERE id = %s", (order_id,))
        if current is None:
            return 404, {"error": {"code": "not_found", "message": f"No order {order_id!r}"}}
        return conflict(current)
    declined: Reply = 402, error_body("card_declined", "card_declined", "The card was declined")
    try:
        outcome = verdict(provider.confirm(ensure_intent(cfg, provider, order), order_id))
    except Declined as exc:
        declined = 402, error_body("card_declined", str(exc), "The card was declined")
        outcome = ("failed", None)
    except Ambiguous as exc:
        if cfg.mode == "ambiguous_failed":  # the flaw: "we don't know" is taken for "it failed"
            reply = 502, error_body("provider_error", "ambiguous", str(exc))
            return finish(cfg, order_id, "failed", None, reply)
        outcome = None
    if outcome is None:  # the outcome is unknown: the reconciler settles it after the lease
        return 202, {"id": order_id, "status": "processing"}
    state, ref = outcome
    if state == "failed":
        return finish(cfg, order_id, "failed", None, declined)
    return finish(cfg, order_id, "completed", ref,
                  (200, {"id": order_id, "status": "completed", "charge_id": ref}))


def reconcile_once(cfg: Config, provider: Provider) -> int:
    """Settle every `processing` order whose lease expired; return how many were taken."""
    due = rows(cfg, DUE, (cfg.lease_s,))
    for order in due:
        try:
            pi_id = ensure_intent(cfg, provider, order)
            intent = provider.retrieve(pi_id)
            if intent.get("status") == "requires_confirmation":
                intent = provider.confirm(pi_id, order["id"])
            outcome = verdict(intent)
        except Declined:
            outcome = ("failed", None)
        except Ambiguous:
            continue  # still unknown: the extended lease brings it back
        if outcome is not None:
            one(cfg, SETTLE, (outcome[0], outcome[1], order["id"]))
    return len(due)


# ---- HTTP ---------------------------------------------------------------------------------


def create(cfg: Config, raw: bytes) -> Reply:
    def invalid(field: str, message: str) -> Reply:
        return 422, {"error": {"code": "validation_error", "field": field, "message": message}}

    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return 400, {"error": {"code": "bad_request", "message": "The body is not JSON"}}
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
    order_id = "ord_" + secrets.token_hex(12)
    one(cfg, "INSERT INTO orders (id, amount, currency, customer) VALUES (%s, %s, %s, %s) "
        "RETURNING id", (order_id, amount, currency.lower(), customer))
    return 201, {"id": order_id, "status": "pending", "amount": amount,
                 "currency": currency.lower()}


def read(cfg: Config, order_id: str) -> Reply:
    row = one(cfg, "SELECT * FROM orders WHERE id = %s", (order_id,))
    if row is None:
        return 404, {"error": {"code": "not_found", "message": f"No order {order_id!r}"}}
    return 200, {"id": row["id"], "status": row["state"], "charge_id": row["charge_ref"],
                 "amount": row["amount"], "currency": row["currency"]}


class Server(ThreadingHTTPServer):
    """One worker's server over the supervisor's already listening socket."""

    daemon_threads = True

    def __init__(self, sock: socket.socket, cfg: Config) -> None:
        super().__init__(sock.getsockname(), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.cfg = cfg
        self.provider = Provider(cfg)

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["payments"]:
            return create(self.cfg, raw)
        if method == "POST" and len(parts) == 3 and parts[::2] == ["payments", "charge"]:
            return charge(self.cfg, self.provider, parts[1])
        if method == "GET" and len(parts) == 2 and parts[0] == "payments":
            return read(self.cfg, parts[1])
        return 404, {"error": {"code": "not_found", "message": f"No route {method} {path}"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            status, body = self.server.route(self.command, self.path.partition("?")[0], raw)
        except psycopg.Error as exc:
            status, body = 503, error_body("database_error", None, str(exc).strip())
        except Exception as exc:
            traceback.print_exc()
            status, body = 500, error_body("internal_error", None, repr(exc))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log


# ---- supervisor and workers ------------------------------------------------------------------


def spawn(sock: socket.socket, cfg: Config) -> int:
    """Fork one worker serving `sock` until the supervisor goes away; return its pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        server = Server(sock, cfg)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        while os.getppid() == parent:  # an orphan (supervisor SIGKILLed) ends itself
            time.sleep(0.5)
    finally:
        os._exit(0)


def reconcile_forever(cfg: Config, stop: threading.Event, fork_lock: threading.Lock) -> None:
    provider = Provider(cfg)
    while not stop.wait(cfg.reconcile_every_s):
        with fork_lock:  # the supervisor forks only between passes, never mid-request
            try:
                reconcile_once(cfg, provider)
            except Exception:
                traceback.print_exc()


def exit_at_eof(stop: threading.Event) -> None:
    """The launcher holds our stdin: its end (even a SIGKILLed launcher's) stops the service."""
    sys.stdin.buffer.read()
    stop.set()


def main() -> None:
    # Forks happen with the reconciler idle (fork_lock); the children only serve their socket.
    warnings.filterwarnings("ignore", ".*multi-threaded.*fork", DeprecationWarning)
    cfg = Config.from_env()
    with connect(cfg) as conn:
        conn.execute(SCHEMA)
    sock = socket.create_server(("127.0.0.1", cfg.port), backlog=256)
    workers = {spawn(sock, cfg) for _ in range(cfg.workers)}
    print(f"LISTENING http://127.0.0.1:{sock.getsockname()[1]} PID {os.getpid()}", flush=True)
    stop, fork_lock = threading.Event(), threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=exit_at_eof, args=(stop,), daemon=True).start()
    threading.Thread(target=reconcile_forever, args=(cfg, stop, fork_lock), daemon=True).start()
    try:
        while not stop.wait(0.1):
            for pid in list(workers):
                if os.waitpid(pid, os.WNOHANG)[0]:  # crashed or killed: start a replacement
                    workers.discard(pid)
                    with fork_lock:
                        workers.add(spawn(sock, cfg))
    finally:
        stop.set()
        for pid in workers:  # unreaped, so still ours; SIGTERM's default action ends them now
            os.kill(pid, signal.SIGTERM)
        for pid in workers:
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
