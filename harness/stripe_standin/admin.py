"""The admin API (`/_standin/…`): health, faults, ledger, reset, the clock and webhooks."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from harness import __version__
from harness.stripe_standin.api import json_response
from harness.stripe_standin.faults import FaultRuleError, parse_rules
from harness.stripe_standin.state import StandinState
from harness.stripe_standin.wire import StripeError

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _error(status: int, message: str, param: str | None = None) -> web.Response:
    return json_response(status, StripeError(status, message, param=param).body(), {})


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise StripeError(400, f"Invalid JSON body: {exc}") from None


def _int_query(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise StripeError(400, f"{name} must be a non-negative integer, got {raw!r}", param=name)
    return int(raw)


def _guarded(handler: Handler) -> Handler:
    """Answer a StripeError raised by an admin handler in Stripe's envelope."""

    async def run(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except StripeError as err:
            return json_response(err.status, err.body(), {})

    return run


def admin_routes(state: StandinState) -> list[web.RouteDef]:
    """The `/_standin/` routes bound to one state."""

    async def health(_request: web.Request) -> web.Response:
        return json_response(200, {
            "ok": True, "standin": "payrace", "version": __version__, "seed": state.seed,
            "ledger_entries": len(state.ledger), "upstream": state.upstream_url,
            "now": state.clock.now(), "pid": os.getpid(),
        }, {})

    async def arm(request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            rules = parse_rules(body, state.seed)
        except FaultRuleError as exc:
            return _error(400, str(exc), exc.field)
        state.faults.arm(rules)
        return json_response(200, {"armed": len(rules), "total": len(state.faults.rules)}, {})

    async def list_faults(_request: web.Request) -> web.Response:
        return json_response(200, {"rules": [r.describe() for r in state.faults.rules]}, {})

    async def clear_faults(_request: web.Request) -> web.Response:
        cleared = len(state.faults.rules)
        state.faults.clear()
        return json_response(200, {"cleared": cleared}, {})

    async def release_gates(request: web.Request) -> web.Response:
        body = await _json_body(request) or {}
        payment_id = body.get("payment_id") if isinstance(body, dict) else None
        if payment_id is not None and (not isinstance(payment_id, str) or not payment_id):
            return _error(400, f"payment_id must be a non-empty string, got {payment_id!r}",
                          "payment_id")
        return json_response(200, {"released": state.faults.release_gates(payment_id)}, {})

    async def ledger(request: web.Request) -> web.Response:
        cursor = _int_query(request, "cursor", 0) or 0
        limit = _int_query(request, "limit", None)
        entries, next_cursor = state.ledger.read(cursor, limit)
        return json_response(200, {"entries": entries, "next_cursor": next_cursor}, {})

    async def dump(request: web.Request) -> web.Response:
        body = await _json_body(request) or {}
        raw_path = body.get("path") if isinstance(body, dict) else None
        if raw_path is None and state.ledger_path is None:
            return _error(400, 'Expected {"path": "FILE"} (no --ledger FILE was given).', "path")
        if raw_path is not None and (not isinstance(raw_path, str) or not raw_path):
            return _error(400, f"path must be a file name, got {raw_path!r}", "path")
        path = Path(raw_path) if raw_path else state.ledger_path
        assert path is not None
        try:
            count = state.ledger.dump(path)
        except OSError as exc:
            return _error(400, f"Cannot write the ledger to {str(path)!r}: {exc.strerror}", "path")
        return json_response(200, {"path": str(path), "entries": count}, {})

    async def reset(_request: web.Request) -> web.Response:
        state.reset()
        return json_response(200, {"ok": True}, {})

    async def clock(request: web.Request) -> web.Response:
        body = await _json_body(request)
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            return _error(
                400, f'Expected {{"advance_seconds": N}} with N >= 0, got {body!r}',
                "advance_seconds",
            )
        keep = body.get("renew_keys_used_within_s", 0)
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or keep < 0:
            return _error(
                400, f"renew_keys_used_within_s must be seconds >= 0, got {keep!r}",
                "renew_keys_used_within_s",
            )
        aging = body.get("except_keys", [])
        if not isinstance(aging, list) or not all(isinstance(k, str) for k in aging):
            return _error(400, f"except_keys must be a list of idempotency keys, got {aging!r}",
                          "except_keys")
        now = state.clock.advance(seconds)
        renewed = state.keys.renew_in_use(now, float(keep), frozenset(aging))
        return json_response(200, {"now": now, "renewed_keys": renewed}, {})

    async def webhooks(_request: web.Request) -> web.Response:
        # The only place an endpoint's secret shows again after its create (Stripe's dashboard
        # plays this role), and the only place at all for a `--webhook` endpoint's.
        # `?payment_id=…` (repeatable): count only the deliveries owed for those payments'
        # events — what payrace waits for before judging them.
        wanted = set(_request.query.getall("payment_id", []))
        return json_response(200, state.webhooks.describe(wanted or None), {})

    return [
        web.get("/_standin/health", _guarded(health)),
        web.get("/_standin/webhooks", _guarded(webhooks)),
        web.post("/_standin/faults", _guarded(arm)),
        web.get("/_standin/faults", _guarded(list_faults)),
        web.delete("/_standin/faults", _guarded(clear_faults)),
        web.post("/_standin/faults/release", _guarded(release_gates)),
        web.get("/_standin/ledger", _guarded(ledger)),
        web.post("/_standin/ledger/dump", _guarded(dump)),
        web.post("/_standin/reset", _guarded(reset)),
        web.post("/_standin/clock", _guarded(clock)),
    ]
