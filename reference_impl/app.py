"""The HTTP app: one variant behind the contract of docs/TARGETS.md, plus `/_admin` endpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_impl import responses
from reference_impl.config import ServiceConfig
from reference_impl.reconciler import ReconcileLoop
from reference_impl.schema import ensure_schema_when_up
from reference_impl.validation import FieldError, validate_failpoint, validate_new_payment
from reference_impl.variants import Variant, load
from reference_impl.webhooks import WEBHOOK_PATH, receive

_log = logging.getLogger("reference_impl.app")

Endpoint = Callable[[Request], Awaitable[Response]]


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _field_error(exc: FieldError) -> JSONResponse:
    return _json(
        422, {"error": {"code": "validation_error", "field": exc.field, "message": exc.message}}
    )


async def _body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise FieldError("body", "Expected a JSON object body, got an empty body")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise FieldError("body", f"Expected a JSON object body, got invalid JSON ({exc})") from exc


def _guarded(handler: Endpoint) -> Endpoint:
    """Bad input becomes 422, database trouble 503, anything else 500 — never a crash."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except FieldError as exc:
            return _field_error(exc)
        except SQLAlchemyError as exc:
            return _json(*responses.database_failed(exc))
        except Exception as exc:
            _log.exception("unhandled error in %s %s", request.method, request.url.path)
            return _json(*responses.internal_error(exc))

    return endpoint


def create_app(variant_name: str, config: ServiceConfig, ready_dir: str | None = None) -> Starlette:
    """Wrap one instance of `variant_name` (one per worker process) in the HTTP contract."""
    variant: Variant = load(variant_name, config)
    failpoints = variant.failpoints

    async def create_payment(request: Request) -> Response:
        amount, currency, customer = validate_new_payment(await _body(request))
        payment = await run_in_threadpool(variant.create_payment, amount, currency, customer)
        return _json(201, payment)

    async def charge(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        key = request.headers.get("idempotency-key")
        status, body = await run_in_threadpool(variant.charge, payment_id, key)
        return _json(status, body)

    async def webhook(request: Request) -> Response:
        payload = await request.body()
        signature = request.headers.get("stripe-signature")
        status, body = await run_in_threadpool(
            receive, variant, payload, signature, config.webhook_secret
        )
        return _json(status, body)

    async def get_payment(request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        payment = await run_in_threadpool(variant.get_payment, payment_id)
        if payment is None:
            return _json(*responses.not_found(payment_id))
        return _json(200, payment)

    async def health(request: Request) -> Response:
        await run_in_threadpool(variant.store.ping)
        return _json(
            200,
            {
                "ok": True,
                "variant": variant_name,
                "pid": os.getpid(),
                "failpoints": config.failpoints,
            },
        )

    async def reconcile(request: Request) -> Response:
        body = await _body(request, optional=True)
        force = body.get("force", False) if isinstance(body, dict) else None
        if not isinstance(force, bool):
            raise FieldError("force", f"Expected force as true or false, got force={force!r}")
        counts = await run_in_threadpool(variant.reconcile, force)
        return _json(200, counts)

    async def arm_failpoint(request: Request) -> Response:
        name, action, ms, count = validate_failpoint(await _body(request))
        if not config.failpoints:
            return _json(
                409,
                {
                    "error": {
                        "code": "failpoints_disabled",
                        "message": "Failpoints are off: start the service with failpoints on "
                        "(payrace serve --failpoints)",
                    }
                },
            )
        armed = await run_in_threadpool(failpoints.arm, name, action, ms, count)
        return _json(200, {"armed": armed})

    async def clear_failpoints(request: Request) -> Response:
        return _json(200, {"cleared": await run_in_threadpool(failpoints.clear)})

    async def list_failpoints(request: Request) -> Response:
        armed = await run_in_threadpool(failpoints.armed)
        return _json(200, {"enabled": config.failpoints, "armed": armed})

    async def snapshot(request: Request) -> Response:
        rows = await run_in_threadpool(variant.store.snapshot)
        return _json(200, rows)

    async def move_clock(request: Request) -> Response:
        body = await _body(request)
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise FieldError(
                "advance_seconds",
                f"Expected advance_seconds as a number >= 0, got advance_seconds={seconds!r}",
            )
        moved = await run_in_threadpool(variant.store.shift_clock, float(seconds))
        return _json(200, {"advanced_seconds": seconds, "rows": moved})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(ensure_schema_when_up, variant.engine)
        loop: ReconcileLoop | None = None
        if config.reconcile_interval_seconds > 0:
            loop = ReconcileLoop(variant.reconcile, config.reconcile_interval_seconds)
            loop.start()
        marker = Path(ready_dir) / f"worker-{os.getpid()}" if ready_dir else None
        if marker is not None:
            marker.write_text(variant_name)
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()
            if marker is not None:
                marker.unlink(missing_ok=True)
            await run_in_threadpool(variant.close)

    routes = [
        Route("/payments", _guarded(create_payment), methods=["POST"]),
        Route("/payments/{payment_id}/charge", _guarded(charge), methods=["POST"]),
        Route("/payments/{payment_id}", _guarded(get_payment), methods=["GET"]),
        Route(WEBHOOK_PATH, _guarded(webhook), methods=["POST"]),
        Route("/_admin/health", _guarded(health), methods=["GET"]),
        Route("/_admin/reconcile", _guarded(reconcile), methods=["POST"]),
        Route("/_admin/failpoints", _guarded(arm_failpoint), methods=["POST"]),
        Route("/_admin/failpoints", _guarded(clear_failpoints), methods=["DELETE"]),
        Route("/_admin/failpoints", _guarded(list_failpoints), methods=["GET"]),
        Route("/_admin/snapshot", _guarded(snapshot), methods=["GET"]),
        Route("/_admin/clock", _guarded(move_clock), methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
