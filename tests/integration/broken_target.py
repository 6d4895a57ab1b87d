"""A payment service that breaks the target contract on purpose, served for real over HTTP.

Modes: `no_charge_id` (a completed charge answers without `charge_id`), `backwards` (a
completed payment reads as pending again), `no_metadata` (charges carry no
`metadata[payment_id]`). It charges through the stand-in with the official SDK and never
charges a payment twice, so the only thing wrong with it is the contract.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.stripe_standin import TEST_API_KEY

MODES = ("no_charge_id", "backwards", "no_metadata")


def build_app(mode: str, stripe_url: str) -> Starlette:
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}, expected one of {MODES}")
    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": stripe_url})
    payments: dict[str, dict[str, Any]] = {}
    reads: dict[str, int] = {}
    lock = threading.Lock()

    def view(payment: dict[str, Any]) -> dict[str, Any]:
        return {k: payment[k] for k in ("id", "status", "charge_id", "amount", "currency")}

    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        payment_id = f"pay_{uuid.uuid4().hex}"
        payments[payment_id] = {
            "id": payment_id, "status": "pending", "charge_id": None,
            "amount": int(body["amount"]), "currency": body.get("currency", "usd"),
        }
        return JSONResponse(view(payments[payment_id]), status_code=201)

    def charge_sync(payment_id: str) -> tuple[int, dict[str, Any]]:
        with lock:  # one charge per payment, ever: this service's only flaw is its contract
            payment = payments.get(payment_id)
            if payment is None:
                return 404, {"error": {"code": "not_found"}}
            if payment["status"] != "pending":
                return 409, {"error": {"code": "already_processed"}}
            params: dict[str, Any] = {
                "amount": payment["amount"], "currency": payment["currency"], "source": "tok_visa",
            }
            if mode != "no_metadata":
                params["metadata"] = {"payment_id": payment_id}
            charge = client.v1.charges.create(params=params)  # type: ignore[arg-type]
            payment.update(status="completed", charge_id=charge.id)
        charge_id = None if mode == "no_charge_id" else charge.id
        return 200, {"id": payment_id, "status": "completed", "charge_id": charge_id}

    async def charge(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        status, body = await run_in_threadpool(charge_sync, request.path_params["id"])
        return JSONResponse(body, status_code=status)

    async def read(request: Request) -> JSONResponse:
        payment_id = request.path_params["id"]
        payment = payments.get(payment_id)
        if payment is None:
            return JSONResponse({"error": {"code": "not_found"}}, status_code=404)
        shown = view(payment)
        reads[payment_id] = reads.get(payment_id, 0) + 1
        if mode == "no_charge_id":
            shown["charge_id"] = None
        if mode == "backwards" and payment["status"] == "completed" and reads[payment_id] % 2 == 0:
            shown["status"] = "pending"
        return JSONResponse(shown)

    return Starlette(
        routes=[
            Route("/payments", create, methods=["POST"]),
            Route("/payments/{id}/charge", charge, methods=["POST"]),
            Route("/payments/{id}", read, methods=["GET"]),
        ]
    )


@contextlib.contextmanager
def serving(mode: str, stripe_url: str) -> Iterator[str]:
    """Serve the broken service on a free loopback port in this process; yield its URL."""
    with serving_app(build_app(mode, stripe_url)) as url:
        yield url


@contextlib.contextmanager
def serving_app(app: Starlette) -> Iterator[str]:
    """Serve any app on a free loopback port in this process (uvicorn, a thread); yield its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the broken target did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
