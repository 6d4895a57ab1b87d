"""The `/v1/` pipeline: auth, decoding, validation, faults, idempotency, execution, ledger."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from harness.safety import is_live_key
from harness.stripe_standin import faults as faults_mod
from harness.stripe_standin.endpoints import route
from harness.stripe_standin.resources import Context
from harness.stripe_standin.state import StandinState
from harness.stripe_standin.upstream import Upstream
from harness.stripe_standin.wire import (
    API_ERROR,
    StripeError,
    decode_pairs,
    new_request_id,
    pairs_digest,
    parse_pairs,
    unrecognized_url,
)

log = logging.getLogger("payrace.standin")
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"


def moves_money(method: str, path: str, args: dict[str, Any]) -> bool:
    """A request that can take money: a Charge, a confirm, a PaymentIntent made confirmed."""
    from harness.checkers.evidence import charge_endpoint

    endpoint = charge_endpoint(method, path)
    if endpoint == "/v1/payment_intents":
        return bool(args.get("confirm"))
    return endpoint is not None


@dataclass
class Answer:
    """The response being built, and what the ledger will say about it."""

    status: int
    payload: bytes  # JSON, encoded as soon as it is known: the snapshot stored and replayed
    headers: dict[str, str]
    hold: float = 0.0  # seconds to sit on the response after the ledger has it (hang_after)

    @classmethod
    def of(cls, status: int, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        # orjson's result keeps its 8 KiB working buffer; an exact-size copy is what a key
        # stores, or memory per charge grows eightfold over a long run.
        return cls(status, bytes(memoryview(orjson.dumps(body))), headers)

    @classmethod
    def error(cls, err: StripeError) -> Answer:
        return cls.of(err.status, err.body(), dict(err.headers))


class Dropped(Exception):
    """The request executed and its connection was reset on purpose (`drop_after`)."""


def json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> web.Response:
    """A JSON response; orjson because encoding Stripe-sized objects with `json` cost more than
    the rest of the stand-in's work per request."""
    return raw_response(status, orjson.dumps(body), headers)


def raw_response(status: int, payload: bytes, headers: dict[str, str]) -> web.Response:
    """A response with JSON bytes already encoded, and a Request-Id as every Stripe answer has."""
    if "Request-Id" not in headers:
        headers["Request-Id"] = new_request_id()
    return web.Response(status=status, body=payload, content_type=_JSON, headers=headers)


def _api_key(request: web.Request) -> str:
    """The caller's secret key (Bearer, or Basic as Stripe also accepts), or Stripe's 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = credential.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(credential).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). The payrace stand-in accepts any test key (sk_test_…).",
        )
    if is_live_key(key):
        raise StripeError(
            401,
            f"Refusing the live-mode key {key[:8]}…: payrace never talks to live mode. "
            "Use a test key (sk_test_…).",
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise StripeError(
            401, f"Invalid API Key provided: {key[:8]}***. Expected a test key (sk_test_…)."
        )
    return key


async def _pairs(request: web.Request) -> list[tuple[str, str]]:
    """Parameter pairs: the form body of a POST, the query string of a GET."""
    if request.method != "POST":
        return parse_pairs(request.query_string.encode())
    raw = await request.read()
    header = request.headers.get("Content-Type", "")
    # Most bodies say exactly this; only other values pay for parsing the header.
    ctype = _FORM if header.startswith(_FORM) else request.content_type
    if raw and ctype not in (_FORM, "application/octet-stream"):
        raise StripeError(
            400,
            f"Invalid request: expected a form-encoded body ({_FORM}) as Stripe's v1 API "
            f"takes, got Content-Type {ctype or 'none'}.",
        )
    return parse_pairs(raw)


def _fault_error(rule: faults_mod.Rule, executed: bool) -> Answer:
    """The error response an `error_before` / `error_after` / `rate_limit` rule sends."""
    if rule.action == "rate_limit":
        message = (
            "Too many requests hit the API too quickly. We recommend an exponential backoff "
            "of your requests. (payrace fault rate_limit: nothing executed)"
        )
    elif executed:
        message = (
            "An unknown error occurred while processing this request. (payrace fault "
            "error_after: the request executed, this error is stored on its key)"
        )
    else:
        message = "An unknown error occurred. (payrace fault error_before: nothing executed)"
    err = StripeError(rule.status, message, type=rule.type, code=rule.code)
    if rule.should_retry is not None:
        err.headers["Stripe-Should-Retry"] = "true" if rule.should_retry else "false"
    return Answer.error(err)


def reset_connection(request: web.Request) -> None:
    """Close the client's connection with a TCP RST and no response bytes at all."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout turns close() into a reset, as a crashed proxy would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class ApiHandler:
    """Serves every `/v1/` request against one StandinState."""

    def __init__(self, state: StandinState, upstream: Upstream | None) -> None:
        self.state = state
        self.upstream = upstream

    async def handle(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        rid = new_request_id()
        wall = time.time()
        entry: dict[str, Any] = {
            "seq": 0, "kind": "request", "time": wall + state.clock.offset, "wall": wall,
            "method": request.method, "path": request.path,
            "idempotency_key": None, "params_digest": None, "status": 0, "replayed": False,
            "request_id": rid, "fault": None, "payment_id": None, "api_key": None,
        }
        try:
            answer = await self._answer(request, entry)
        except StripeError as err:
            answer = Answer.error(err)
            # What was wrong, in the ledger too: a preflight can then say why nothing charged.
            entry["error"] = err.message[:200]
        except Dropped:
            state.ledger.add(entry)
            reset_connection(request)
            raise web.HTTPException() from None  # aiohttp writes nothing to an aborted transport
        entry["status"] = answer.status
        state.ledger.add(entry)
        answer.headers["Request-Id"] = rid
        if answer.hold:
            await asyncio.sleep(answer.hold)
        return raw_response(answer.status, answer.payload, answer.headers)

    async def _answer(self, request: web.Request, entry: dict[str, Any]) -> Answer:
        state = self.state
        # Keys first, as Stripe does: a live key is refused whatever URL it came with.
        api_key = _api_key(request)
        entry["api_key"] = api_key
        found = route(request.method, request.path)
        if found is None:
            raise unrecognized_url(request.method, request.path)
        endpoint, groups = found
        pairs = await _pairs(request)
        entry["params_digest"] = digest = pairs_digest(pairs)
        params = decode_pairs(pairs)
        if self.upstream is not None:
            rejected = await self.upstream.check(request, await request.read())
            if rejected is not None:
                return rejected
        args = endpoint.validate(params)
        payment_id = endpoint.payment_id(state.resources, args, groups)
        entry["payment_id"] = payment_id
        plan = state.faults.plan(request.method, request.path, payment_id,
                                 moves_money(request.method, request.path, args))
        entry["fault"] = plan.label
        key = request.headers.get("Idempotency-Key") if endpoint.mutates else None
        if key is not None:
            state.keys.validate_key(key)
            # Recorded before any fault answers, so the ledger shows which key a refused
            # request carried: retry-key-stability judges keys, not only executions.
            entry["idempotency_key"] = key
        if plan.before is not None:
            return _fault_error(plan.before, executed=False)
        if plan.gate is not None:
            await faults_mod.pass_gate(plan.gate, payment_id)

        if key is not None:
            try:
                stored = state.keys.begin(
                    api_key, key, f"{request.method} {request.path}", digest, state.clock.now()
                )
            except StripeError:  # 400 mismatch or 409 in use: nothing executes
                plan.withdraw_after()
                entry["fault"] = plan.label
                raise
            if stored is not None:
                entry["replayed"] = True
                plan.withdraw_after()
                entry["fault"] = plan.label
                if plan.latency:
                    await asyncio.sleep(plan.latency)
                assert stored.status is not None and stored.body is not None
                headers = dict(stored.headers)
                headers.update({"Idempotent-Replayed": "true", "Idempotency-Key": key})
                return Answer(stored.status, stored.body, headers)
        # The key is claimed: from here the endpoint "executes", and its first answer is stored.
        try:
            if plan.latency:
                await asyncio.sleep(plan.latency)
            elif key is not None and plan.gate is not None:
                # Requests a gate released together must see this one in flight, as at Stripe
                # where execution takes time; elsewhere execution is instant and needs no yield.
                await asyncio.sleep(0)
        except asyncio.CancelledError:  # shutting down before executing: leave the key free
            if key is not None:
                state.keys.release(api_key, key)
            raise
        answer = self._execute(endpoint.run, args, groups, api_key, key, entry, plan)
        after = plan.after
        if after is not None and after.action == "error_after":
            answer = _fault_error(after, executed=True)
        if key is not None:
            state.keys.finish(api_key, key, answer.status, answer.payload, answer.headers)
            answer.headers["Idempotency-Key"] = key
        if after is not None and after.action == "drop_after":
            entry["status"] = answer.status
            raise Dropped()
        if after is not None and after.action == "hang_after":
            answer.hold = after.delay_seconds()
        return answer

    def _execute(
        self, run: Any, args: dict[str, Any], groups: dict[str, str], api_key: str,
        key: str | None, entry: dict[str, Any], plan: faults_mod.Plan,
    ) -> Answer:
        """Run the endpoint atomically (no await inside), turning every outcome into an answer."""
        ctx = Context(self.state.clock.now(), entry["request_id"], key, api_key,
                      plan.lag_seconds(self.state.search_lag_ms))
        try:
            return Answer.of(200, run(self.state.resources, args, groups, ctx), {})
        except StripeError as err:
            return Answer.error(err)
        except Exception:  # a stand-in bug must still answer like Stripe's 500, and be stored
            log.exception("stand-in failed while executing %s", entry["path"])
            return Answer.error(StripeError(
                500, "An unknown error occurred in the payrace stand-in.", type=API_ERROR))
