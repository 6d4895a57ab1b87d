"""The Stripe endpoints served: how each is matched, validated, executed and attributed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.stripe_standin.resources import Context, Resources
from harness.stripe_standin.wire import reject_unknown

Groups = dict[str, str]
Validate = Callable[[dict[str, Any]], dict[str, Any]]
Execute = Callable[[Resources, dict[str, Any], Groups, Context], dict[str, Any]]
PaymentOf = Callable[[Resources, dict[str, Any], Groups], "str | None"]


@dataclass(frozen=True)
class Endpoint:
    """One route; only `mutates` routes (POSTs) take idempotency keys and execute money movement."""

    method: str
    pattern: re.Pattern[str]
    validate: Validate
    run: Execute
    payment_id: PaymentOf
    mutates: bool


def _from_params(_res: Resources, args: dict[str, Any], _g: Groups) -> str | None:
    value = args.get("metadata", {}).get("payment_id")
    return value if isinstance(value, str) else None


def _from_intent(res: Resources, _args: dict[str, Any], groups: Groups) -> str | None:
    intent = res.intents.get(groups["id"])
    return intent["metadata"].get("payment_id") if intent else None


def _from_charge(res: Resources, _args: dict[str, Any], groups: Groups) -> str | None:
    charge = res.charges.get(groups["id"])
    return charge["metadata"].get("payment_id") if charge else None


def _from_refund_target(res: Resources, args: dict[str, Any], _g: Groups) -> str | None:
    if args.get("charge"):
        charge = res.charges.get(args["charge"])
        return charge["metadata"].get("payment_id") if charge else None
    intent = res.intents.get(args.get("payment_intent") or "")
    return intent["metadata"].get("payment_id") if intent else None


def _none(_res: Resources, _args: dict[str, Any], _g: Groups) -> str | None:
    return None


def _no_params(params: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(params, frozenset({"expand"}))
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", re.compile(r"/v1/charges"), Resources.validate_charge,
             lambda r, a, g, c: r.create_charge(a, c), _from_params, True),
    Endpoint("GET", re.compile(r"/v1/charges/search"), Resources.validate_search,
             lambda r, a, g, c: r.search_charges(a), _none, False),
    Endpoint("GET", re.compile(r"/v1/charges/(?P<id>[^/]+)"), _no_params,
             lambda r, a, g, c: r.get_charge(g["id"]), _from_charge, False),
    Endpoint("POST", re.compile(r"/v1/payment_intents"), Resources.validate_intent,
             lambda r, a, g, c: r.create_intent(a, c), _from_params, True),
    Endpoint("POST", re.compile(r"/v1/payment_intents/(?P<id>[^/]+)/confirm"),
             Resources.validate_confirm, lambda r, a, g, c: r.confirm_intent(g["id"], a, c),
             _from_intent, True),
    Endpoint("GET", re.compile(r"/v1/payment_intents/(?P<id>[^/]+)"), _no_params,
             lambda r, a, g, c: r.get_intent(g["id"]), _from_intent, False),
    Endpoint("POST", re.compile(r"/v1/refunds"), Resources.validate_refund,
             lambda r, a, g, c: r.refund(a, c), _from_refund_target, True),
)


def route(method: str, path: str) -> tuple[Endpoint, Groups] | None:
    """The endpoint serving this method and path, with its path parameters."""
    for endpoint in ENDPOINTS:
        if endpoint.method == method:
            match = endpoint.pattern.fullmatch(path)
            if match is not None:
                return endpoint, match.groupdict()
    return None
