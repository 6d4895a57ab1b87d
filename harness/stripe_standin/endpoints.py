"""The Stripe endpoints served: how each is matched, validated, executed and attributed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.stripe_standin.expand import Obj, apply_expand, parse_expand
from harness.stripe_standin.listing import Collection, list_page, parse_list
from harness.stripe_standin.resources import Context, Resources
from harness.stripe_standin.wire import StripeError, reject_unknown

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


def _from_refund(res: Resources, _args: dict[str, Any], groups: Groups) -> str | None:
    refund = res.refunds.get(groups["id"])
    charge = res.charges.get(refund["charge"]) if refund else None
    return charge["metadata"].get("payment_id") if charge else None


def _no_params(params: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(params, frozenset({"expand"}))
    return {}


_EXPAND = "_expand"  # the checked expand tree, carried in the validated args to execution


def _store(res: Resources, kind: str) -> Collection:
    return {"charge": res.charges, "payment_intent": res.intents, "refund": res.refunds}[kind]


def _expanding(
    validate: Validate, run: Execute, kind: str, listed: bool = False
) -> tuple[Validate, Execute]:
    """Wrap an endpoint so `expand[]` is checked with its parameters and applied to its answer.

    Applied before the answer is encoded, so a key stores (and replays) the expanded answer, as
    Stripe stores the response it first sent.
    """

    def checked(params: dict[str, Any]) -> dict[str, Any]:
        args = validate(params)
        args[_EXPAND] = parse_expand(params.get("expand"), kind, listed)
        return args

    def expanded(res: Resources, args: dict[str, Any], groups: Groups, ctx: Context) -> Obj:
        answer = run(res, args, groups, ctx)
        tree = args[_EXPAND]
        if not tree:  # the common case: no copy, no lookups
            return answer
        return apply_expand(answer, tree, lambda k, i: _store(res, k).get(i))

    return checked, expanded


def _lister(kind: str, url: str, filters: frozenset[str]) -> tuple[Validate, Execute]:
    """A `GET` list over one collection: read-only, so the ledger gets only the request entry."""

    def validate(params: dict[str, Any]) -> dict[str, Any]:
        return {"query": parse_list(params, filters)}

    def run(res: Resources, args: dict[str, Any], _g: Groups, _c: Context) -> Obj:
        return list_page(_store(res, kind), args["query"], url, kind)

    return _expanding(validate, run, kind, listed=True)


def _get_refund(res: Resources, refund_id: str) -> Obj:
    refund = res.refunds.get(refund_id)
    if refund is None:
        raise StripeError(404, f"No such refund: '{refund_id}'", code="resource_missing",
                          param="id")
    return refund


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", re.compile(r"/v1/charges"), *_expanding(
        Resources.validate_charge, lambda r, a, g, c: r.create_charge(a, c), "charge"),
        _from_params, True),
    Endpoint("GET", re.compile(r"/v1/charges"),
             *_lister("charge", "/v1/charges",
                      frozenset({"payment_intent", "customer", "created"})), _none, False),
    Endpoint("GET", re.compile(r"/v1/charges/search"), *_expanding(
        Resources.validate_search, lambda r, a, g, c: r.search("charge", a, c.now), "charge",
        True), _none, False),
    Endpoint("GET", re.compile(r"/v1/charges/(?P<id>[^/]+)"), *_expanding(
        _no_params, lambda r, a, g, c: r.get_charge(g["id"]), "charge"), _from_charge, False),
    Endpoint("POST", re.compile(r"/v1/payment_intents"), *_expanding(
        Resources.validate_intent, lambda r, a, g, c: r.create_intent(a, c), "payment_intent"),
        _from_params, True),
    Endpoint("GET", re.compile(r"/v1/payment_intents"),
             *_lister("payment_intent", "/v1/payment_intents",
                      frozenset({"customer", "created"})), _none, False),
    # Before the retrieve route, which would take "search" for an id.
    Endpoint("GET", re.compile(r"/v1/payment_intents/search"), *_expanding(
        Resources.validate_search, lambda r, a, g, c: r.search("payment_intent", a, c.now),
        "payment_intent", True), _none, False),
    Endpoint("POST", re.compile(r"/v1/payment_intents/(?P<id>[^/]+)/confirm"), *_expanding(
        Resources.validate_confirm, lambda r, a, g, c: r.confirm_intent(g["id"], a, c),
        "payment_intent"), _from_intent, True),
    Endpoint("GET", re.compile(r"/v1/payment_intents/(?P<id>[^/]+)"), *_expanding(
        _no_params, lambda r, a, g, c: r.get_intent(g["id"]), "payment_intent"),
        _from_intent, False),
    Endpoint("POST", re.compile(r"/v1/refunds"), *_expanding(
        Resources.validate_refund, lambda r, a, g, c: r.refund(a, c), "refund"),
        _from_refund_target, True),
    Endpoint("GET", re.compile(r"/v1/refunds"),
             *_lister("refund", "/v1/refunds",
                      frozenset({"charge", "payment_intent", "created"})), _none, False),
    Endpoint("GET", re.compile(r"/v1/refunds/(?P<id>[^/]+)"), *_expanding(
        _no_params, lambda r, a, g, c: _get_refund(r, g["id"]), "refund"), _from_refund, False),
)


def route(method: str, path: str) -> tuple[Endpoint, Groups] | None:
    """The endpoint serving this method and path, with its path parameters."""
    for endpoint in ENDPOINTS:
        if endpoint.method == method:
            match = endpoint.pattern.fullmatch(path)
            if match is not None:
                return endpoint, match.groupdict()
    return None


# Webhook endpoints and events live in their own module, which cannot import this one (it
# would be circular), so it hands over plain tuples.
from harness.stripe_standin.webhook_api import WEBHOOK_ROUTES  # noqa: E402

ENDPOINTS += tuple(Endpoint(*r) for r in WEBHOOK_ROUTES)
