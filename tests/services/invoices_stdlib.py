"""An invoices service in another team's style: stdlib http.server, pre-forked, raw Stripe HTTP.

Its API is its own (client-chosen ids, the key in the body, nothing echoed back):

- `PUT /v2/invoices/{id}` JSON `{"total_cents", "currency", "payer"}` → `204` (`409` if taken)
- `POST /v2/invoices/{id}/capture` JSON `{"request_id": str | null}` → `200 {"result":
  "captured", "charge": {"id"}}` · `422 {"result": "declined"}` · `423 {"result": "busy"}`
  · `504 {"result": "unknown"}` when the provider's answer was lost
- `GET /v2/invoices/{id}` → `200 {"invoice": {"id", "state", "charge", "total_cents",
  "currency"}}`, states `open`, `capturing`, `captured`, `rejected`

MODE=correct: a PaymentIntent is created unconfirmed and stored before it is confirmed
(each call with a key of its own), so a lost answer is settled by retrieving it — by the
next capture or the reconciler thread of the first worker. MODE=flawed: PR #145's
pattern with `/v1/charges`: lock the row, charge with no key, roll back on any error.
Settings as the other services: DATABASE_URL, STRIPE_URL, STRIPE_KEY, PORT, MODE, LEASE_S.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import psycopg
from psycopg.rows import dict_row

DB = os.environ.get("DATABASE_URL", "")
STRIPE = os.environ.get("STRIPE_URL", "http://127.0.0.1:12111").rstrip("/")
KEY = os.environ.get("STRIPE_KEY", "sk_test_payrace")
MODE = os.environ.get("MODE", "correct")
LEASE_S = float(os.environ.get("LEASE_S", "1.5"))
SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
  id text PRIMARY KEY, total_cents integer NOT NULL, currency text NOT NULL, payer text,
  state text NOT NULL DEFAULT 'open', intent text, charge text,
  lease_until timestamptz)
"""


class Unknown(Exception):
    """The provider's answer was lost: the money may or may not have moved."""


def stripe(method: str, path: str, form: dict[str, str], key: str | None = None) -> dict[str, Any]:
    """One raw form-encoded call to the provider; 4xx → its error body, else Unknown."""
    data = urllib.parse.urlencode(form).encode() if method == "POST" else None
    request = urllib.request.Request(f"{STRIPE}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {KEY}")
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            return {"error": json.loads(exc.read() or b"{}").get("error", {})}
        raise Unknown(f"provider {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise Unknown(str(exc)) from None


def method_for(payer: str | None) -> str:
    return "pm_card_chargeDeclined" if payer == "decline" else "pm_card_visa"


def db() -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(DB, row_factory=dict_row, autocommit=True)


def finish(conn: psycopg.Connection[dict[str, Any]], inv: dict[str, Any],
           intent: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Record what the PaymentIntent says happened."""
    if intent.get("status") == "succeeded":
        conn.execute("UPDATE invoices SET state='captured', charge=%s WHERE id=%s",
                     (intent["id"], inv["id"]))
        return 200, {"result": "captured", "charge": {"id": intent["id"]}}
    if "error" in intent or intent.get("status") in ("requires_payment_method", "canceled"):
        conn.execute("UPDATE invoices SET state='rejected' WHERE id=%s", (inv["id"],))
        return 422, {"result": "declined"}
    raise Unknown(f"intent {intent.get('status')}")


Conn = psycopg.Connection[dict[str, Any]]


def drive(conn: Conn, inv: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Correct: find or create the stored intent, then confirm it; a lost answer stays unknown."""
    intent_id = inv["intent"]
    if intent_id:
        intent = stripe("GET", f"/v1/payment_intents/{intent_id}", {})
        if intent.get("status") != "requires_confirmation":
            return finish(conn, inv, intent)
    else:
        created = stripe("POST", "/v1/payment_intents", {
            "amount": str(inv["total_cents"]), "currency": inv["currency"],
            "payment_method": method_for(inv["payer"]), "metadata[payment_id]": inv["id"],
        }, key=f"inv-{inv['id']}-create")
        if "error" in created:
            return finish(conn, inv, created)
        intent_id = created["id"]
        # Stored before it can move money: whoever drives it next confirms this one.
        conn.execute("UPDATE invoices SET intent=COALESCE(intent, %s) WHERE id=%s",
                     (intent_id, inv["id"]))
        intent_id = conn.execute("SELECT intent FROM invoices WHERE id=%s",
                                 (inv["id"],)).fetchone()["intent"]  # type: ignore[index]
    # Stripe's confirm takes no metadata: the intent carries it since its creation.
    confirmed = stripe("POST", f"/v1/payment_intents/{intent_id}/confirm", {},
                       key=f"inv-{inv['id']}-confirm")
    return finish(conn, inv, confirmed)


def capture_correct(invoice_id: str) -> tuple[int, dict[str, Any]]:
    with db() as conn:
        inv = conn.execute(
            "UPDATE invoices SET state='capturing', lease_until=now() + make_interval(secs => %s) "
            "WHERE id=%s AND (state='open' OR (state='capturing' AND lease_until < now())) "
            "RETURNING *", (LEASE_S, invoice_id)).fetchone()
        if inv is None:
            row = conn.execute("SELECT * FROM invoices WHERE id=%s", (invoice_id,)).fetchone()
            if row is None:
                return 404, {"result": "unknown_invoice"}
            if row["state"] == "captured":
                return 200, {"result": "captured", "charge": {"id": row["charge"]}}
            if row["state"] == "rejected":
                return 422, {"result": "declined"}
            return 423, {"result": "busy"}
        try:
            return drive(conn, inv)
        except Unknown:
            return 504, {"result": "unknown"}


def capture_flawed(invoice_id: str) -> tuple[int, dict[str, Any]]:
    with psycopg.connect(DB, row_factory=dict_row) as conn:
        inv = conn.execute("SELECT * FROM invoices WHERE id=%s FOR UPDATE",
                           (invoice_id,)).fetchone()
        if inv is None:
            return 404, {"result": "unknown_invoice"}
        if inv["state"] == "captured":
            return 200, {"result": "captured", "charge": {"id": inv["charge"]}}
        try:
            charge = stripe("POST", "/v1/charges", {
                "amount": str(inv["total_cents"]), "currency": inv["currency"],
                "source": "tok_chargeDeclined" if inv["payer"] == "decline" else "tok_visa",
                "metadata[payment_id]": inv["id"]})
        except Unknown:
            conn.rollback()  # "it failed": the client may simply try again
            return 504, {"result": "unknown"}
        if "error" in charge:
            conn.execute("UPDATE invoices SET state='rejected' WHERE id=%s", (invoice_id,))
            return 422, {"result": "declined"}
        conn.execute("UPDATE invoices SET state='captured', charge=%s WHERE id=%s",
                     (charge["id"], invoice_id))
        return 200, {"result": "captured", "charge": {"id": charge["id"]}}


def reconcile_forever() -> None:
    """Correct mode: drive every invoice whose capture was interrupted and whose lease ran out.

    The poll keeps its connection (a new one after an error): one made five times a second
    cost PostgreSQL a backend process each time."""
    conn: Conn | None = None
    while True:
        time.sleep(0.2)
        try:
            if conn is None or conn.closed:
                conn = db()
            stuck = conn.execute(
                "SELECT id FROM invoices WHERE state='capturing' AND lease_until < now()"
            ).fetchall()
            for row in stuck:
                capture_correct(row["id"])
        except Exception as exc:  # the next round tries again, on a new connection
            print(f"reconciler: {exc}", file=sys.stderr)
            if conn is not None:
                conn.close()
                conn = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return dict(json.loads(raw or b"{}"))

    def parts(self) -> list[str]:
        return [p for p in self.path.split("/") if p][2:]  # after /v2/invoices

    def do_PUT(self) -> None:
        (invoice_id,) = self.parts() or [""]
        body = self.body()
        if not isinstance(body.get("total_cents"), int) or body["total_cents"] <= 0:
            return self.reply(400, {"result": "bad_total"})
        with db() as conn:
            made = conn.execute(
                "INSERT INTO invoices (id, total_cents, currency, payer) VALUES (%s,%s,%s,%s) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (invoice_id, body["total_cents"], body.get("currency", "usd"), body.get("payer")),
            ).fetchone()
        self.reply(204 if made else 409, None if made else {"result": "taken"})

    def do_POST(self) -> None:
        parts = self.parts()
        if len(parts) != 2 or parts[1] != "capture":
            return self.reply(404, {"result": "no_route"})
        self.body()
        status, body = (capture_correct if MODE == "correct" else capture_flawed)(parts[0])
        self.reply(status, body)

    def do_GET(self) -> None:
        (invoice_id,) = self.parts()[:1] or [""]
        with db() as conn:
            row = conn.execute("SELECT * FROM invoices WHERE id=%s", (invoice_id,)).fetchone()
        if row is None:
            return self.reply(404, {"result": "unknown_invoice"})
        self.reply(200, {"invoice": {k: row[k] for k in
                                     ("id", "state", "charge", "total_cents", "currency")}})


class Server(HTTPServer):
    def server_bind(self) -> None:  # the socket is bound before the fork, shared by workers
        pass


def serve(sock: socket.socket, reconciler: bool) -> None:
    server = Server(sock.getsockname(), Handler, bind_and_activate=False)
    server.socket = sock
    if reconciler:
        threading.Thread(target=reconcile_forever, daemon=True).start()
    # Threads per request inside each worker process, as a small team would.
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=server.process_request, args=(conn, addr), daemon=True).start()


def main() -> None:
    if MODE not in ("correct", "flawed"):
        sys.exit(f"MODE={MODE!r}: expected correct or flawed")
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute(SCHEMA)
    sock = socket.create_server(("127.0.0.1", int(os.environ.get("PORT", "8000"))))
    children = []
    for index in range(2):
        pid = os.fork()
        if pid == 0:
            serve(sock, reconciler=MODE == "correct" and index == 0)
        children.append(pid)
    print(f"LISTENING http://127.0.0.1:{sock.getsockname()[1]} PID {os.getpid()}", flush=True)
    # The supervisor: restart a worker that died (payrace kills them), exit with stdin.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while True:
        pid, _ = os.wait()
        index = children.index(pid)
        child = os.fork()
        if child == 0:
            serve(sock, reconciler=MODE == "correct" and index == 0)
        children[index] = child


if __name__ == "__main__":
    main()
