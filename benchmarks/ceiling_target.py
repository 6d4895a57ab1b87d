"""ceiling_target: the cheapest correct service of payrace's contract, for measuring payrace itself.

    .venv/bin/python benchmarks/ceiling_target.py --stripe-url http://127.0.0.1:12111 [--port 0]

It prints `listening on http://host:port` and serves docs/TARGETS.md's three endpoints from
one aiohttp process with its rows in a dict, so the service costs as little as a service
can: a charge is one stand-in call (`POST /v1/charges`) under the payment's one stable
`Idempotency-Key` (`pay-<id>`), which makes it correct under every retry payrace sends. Also
`GET /_admin/snapshot` (the database view in one request), `POST /_admin/reconcile`
(re-drive what an ambiguous answer left `processing`, with the same key) and
`GET /_admin/served` (contract requests answered so far: benchmarks read a load generator's
rate there, at the instants they read its CPU). It exits when its
stdin closes (`--exit-with-stdin`), so a killed benchmark leaves no server behind.
`benchmarks/bench_ceiling.py` starts it with `running_target`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

TEST_API_KEY = "sk_test_payrace"  # any sk_test_ key: the stand-in refuses live keys
MAX_AMOUNT = 99_999_999
# One stand-in call must not hold a charge forever; an answer lost this way is `processing`.
PROVIDER_TIMEOUT_S = 10.0


@dataclass
class Payment:
    """One row: what the contract's GET /payments/{id} answers."""

    id: str
    amount: int
    currency: str
    customer: str | None
    status: str = "pending"
    charge_id: str | None = None

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "charge_id": self.charge_id,
                "amount": self.amount, "currency": self.currency}


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _error(status: int, code: str) -> web.Response:
    return _json(status, {"error": {"code": code, "provider_code": None, "correlation_id": None}})


class Service:
    """The rows, the stand-in session and the handlers; one asyncio loop, so no locks."""

    def __init__(self, stripe_url: str) -> None:
        self.stripe_url = stripe_url.rstrip("/")
        self.rows: dict[str, Payment] = {}
        # Payments whose stand-in call is on its way: a second charge then is a 409, as the
        # contract says for a charge in progress, and never a second call.
        self.in_flight: set[str] = set()
        self.served = 0
        self._ids = itertools.count(1)
        self._prefix = f"pay_{os.getpid():x}_"
        self.session: aiohttp.ClientSession | None = None

    async def start(self, _app: web.Application) -> None:
        # Keep-alive connections to the stand-in, as a real service's SDK keeps them.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=PROVIDER_TIMEOUT_S),
            headers={"Authorization": f"Bearer {TEST_API_KEY}"})

    async def stop(self, _app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def create(self, request: web.Request) -> web.Response:
        self.served += 1
        try:
            body = orjson.loads(await request.read())
            amount, currency = body["amount"], body.get("currency", "usd")
            customer = body.get("customer")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return _error(400, "bad_request")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT:
            return _error(400, "bad_amount")
        payment = Payment(f"{self._prefix}{next(self._ids)}", amount, str(currency),
                          customer if isinstance(customer, str) else None)
        self.rows[payment.id] = payment
        return _json(201, {"id": payment.id, "status": payment.status,
                           "amount": payment.amount, "currency": payment.currency})

    async def read(self, request: web.Request) -> web.Response:
        self.served += 1
        payment = self.rows.get(request.match_info["id"])
        return _json(200, payment.row()) if payment is not None else _error(404, "not_found")

    async def charge(self, request: web.Request) -> web.Response:
        self.served += 1
        payment = self.rows.get(request.match_info["id"])
        if payment is None:
            return _error(404, "not_found")
        if payment.status == "completed":
            return _json(200, {"id": payment.id, "status": "completed",
                               "charge_id": payment.charge_id})
        if payment.status == "failed":
            return _error(402, "card_declined")
        if payment.id in self.in_flight:
            return _error(409, "charge_in_progress")
        return await self._drive(payment)

    async def _drive(self, payment: Payment) -> web.Response:
        """Charge once at the stand-in; an unknown answer leaves the payment `processing`, and
        the next attempt (a client's retry, the reconciler) sends the same key: a replay."""
        payment.status = "processing"
        self.in_flight.add(payment.id)
        try:
            outcome, charge_id = await self._provider_charge(payment)
        finally:
            self.in_flight.discard(payment.id)
        if outcome == "succeeded":
            payment.status, payment.charge_id = "completed", charge_id
            return _json(200, {"id": payment.id, "status": "completed", "charge_id": charge_id})
        if outcome == "declined":
            payment.status = "failed"
            return _error(402, "card_declined")
        return _json(202, {"id": payment.id, "status": "processing"})

    async def _provider_charge(self, payment: Payment) -> tuple[str, str | None]:
        assert self.session is not None
        source = "tok_chargeDeclined" if payment.customer == "decline" else "tok_visa"
        form = {"amount": str(payment.amount), "currency": payment.currency, "source": source,
                "metadata[payment_id]": payment.id}
        try:
            async with self.session.post(f"{self.stripe_url}/v1/charges", data=form,
                                         headers={"Idempotency-Key": f"pay-{payment.id}"}) as r:
                status, body = r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError):
            return "unknown", None
        if status == 402:
            return "declined", None
        if status == 200:
            charge = orjson.loads(body)
            if charge.get("status") == "succeeded":
                return "succeeded", str(charge["id"])
            if charge.get("status") == "failed":
                return "declined", None
        return "unknown", None

    async def count(self, _request: web.Request) -> web.Response:
        return _json(200, {"requests": self.served})

    async def snapshot(self, _request: web.Request) -> web.Response:
        return _json(200, [p.row() for p in self.rows.values()])

    async def reconcile(self, _request: web.Request) -> web.Response:
        stuck = [p for p in self.rows.values()
                 if p.status == "processing" and p.id not in self.in_flight]
        for payment in stuck:
            await self._drive(payment)
        return _json(200, {"redriven": len(stuck)})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/payments", self.create)
        app.router.add_get("/payments/{id}", self.read)
        app.router.add_post("/payments/{id}/charge", self.charge)
        app.router.add_get("/_admin/snapshot", self.snapshot)
        app.router.add_post("/_admin/reconcile", self.reconcile)
        app.router.add_get("/_admin/served", self.count)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app


def _exit_with_stdin(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
    while sys.stdin.buffer.read(4096):  # b"" only at EOF: the parent closed it or died
        pass
    loop.call_soon_threadsafe(done.set)


async def serve(host: str, port: int, stripe_url: str, *, exit_with_stdin: bool) -> None:
    runner = web.AppRunner(Service(stripe_url).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    print(f"listening on http://{bound[0]}:{bound[1]}", flush=True)
    done = asyncio.Event()
    if exit_with_stdin:
        threading.Thread(target=_exit_with_stdin, args=(asyncio.get_running_loop(), done),
                         daemon=True).start()
    try:
        await done.wait()
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def running_target(stripe_url: str, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """The target in its own process on a free port; yields its URL and pid, and stops it."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--stripe-url", stripe_url,
         "--host", host, "--exit-with-stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"ceiling_target did not start (exit {proc.poll()}): {line!r}")
        yield line.split("listening on ", 1)[1].strip(), proc.pid
    finally:
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stripe-url", required=True, help="the payrace stand-in's base URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when stdin closes (how running_target stops it)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.stripe_url,
                          exit_with_stdin=args.exit_with_stdin))


if __name__ == "__main__":
    main()
