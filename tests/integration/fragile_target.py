"""A payment service whose one database connection never comes back after it is terminated.

Correct in everything else (one charge per payment, with the payment's key), it shows what
payrace says about a service that a database fault leaves unable to create payments.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import stripe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.stripe_standin import TEST_API_KEY

SCHEMA = """CREATE TABLE IF NOT EXISTS fragile_payments (
    id text PRIMARY KEY, amount integer NOT NULL, currency text NOT NULL,
    status text NOT NULL DEFAULT 'pending', charge_id text)"""
COLUMNS = "id, status, charge_id, amount, currency"


def build_app(database_url: str, stripe_url: str) -> Starlette:
    """One connection, opened once, shared under a lock: it dies with the first kill."""
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute(SCHEMA)
    lock = threading.Lock()
    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": stripe_url})

    def query(sql: str, *args: Any) -> dict[str, Any] | None:
        with lock:
            row = conn.execute(sql, args).fetchone()
        return None if row is None else dict(zip(COLUMNS.split(", "), row, strict=True))

    def error(status: int, code: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code}}, status_code=status)

    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            row = await run_in_threadpool(
                query, f"INSERT INTO fragile_payments (id, amount, currency) VALUES (%s, %s, %s) "
                f"RETURNING {COLUMNS}", f"fp_{uuid.uuid4().hex}", int(body["amount"]), "usd")
        except psycopg.Error:
            return error(503, "database_unavailable")
        return JSONResponse(row, status_code=201)

    def charge_sync(payment_id: str) -> tuple[int, dict[str, Any]]:
        claimed = query(f"UPDATE fragile_payments SET status = 'processing' WHERE id = %s AND "
                        f"status = 'pending' RETURNING {COLUMNS}", payment_id)
        if claimed is None:
            return 409, {"error": {"code": "already_processed"}}
        charge = client.v1.charges.create(
            params={"amount": claimed["amount"], "currency": "usd", "source": "tok_visa",
                    "metadata": {"payment_id": payment_id}},
            options={"idempotency_key": f"fragile-{payment_id}"},
        )
        done = query(f"UPDATE fragile_payments SET status = 'completed', charge_id = %s "
                     f"WHERE id = %s RETURNING {COLUMNS}", charge.id, payment_id)
        return 200, dict(done or {})

    async def charge(request: Request) -> JSONResponse:
        try:
            status, body = await run_in_threadpool(charge_sync, request.path_params["id"])
        except (psycopg.Error, stripe.StripeError):
            return error(503, "unavailable")
        return JSONResponse(body, status_code=status)

    async def read(request: Request) -> JSONResponse:
        try:
            row = await run_in_threadpool(
                query, f"SELECT {COLUMNS} FROM fragile_payments WHERE id = %s",
                request.path_params["id"])
        except psycopg.Error:
            return error(503, "database_unavailable")
        return JSONResponse(row) if row is not None else error(404, "not_found")

    return Starlette(routes=[
        Route("/payments", create, methods=["POST"]),
        Route("/payments/{id}/charge", charge, methods=["POST"]),
        Route("/payments/{id}", read, methods=["GET"]),
    ])
