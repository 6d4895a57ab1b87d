"""The `/v1/webhook_endpoints` and `/v1/events` routes (wrapped into Endpoints by endpoints.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from harness.stripe_standin.expand import parse_expand
from harness.stripe_standin.listing import Collection, list_page, parse_list
from harness.stripe_standin.resources import Context, Resources
from harness.stripe_standin.wire import (
    StripeError,
    as_metadata,
    reject_unknown,
    require,
)

Obj = dict[str, Any]
Groups = dict[str, str]
Route = tuple[
    str, "re.Pattern[str]", Callable[[Obj], Obj], Callable[[Resources, Obj, Groups, Context], Obj],
    Callable[[Resources, Obj, Groups], "str | None"], bool,
]
_EVENT_TYPE = re.compile(r"[a-z_]+(\.[a-z_]+)+")
CREATE_PARAMS = frozenset({"url", "enabled_events", "description", "metadata", "expand",
                           "api_version", "connect"})


def _no_payment(_res: Resources, _args: Obj, _g: Groups) -> str | None:
    return None


def _check_expand(params: Obj, kind: str, listed: bool = False) -> None:
    # Nothing on these objects is expandable (`data.object` is always whole), so any path is
    # refused with expand's usual message; an empty `expand[]` is fine.
    parse_expand(params.get("expand"), kind, listed)


def validate_create(params: Obj) -> Obj:
    reject_unknown(params, CREATE_PARAMS)
    _check_expand(params, "webhook_endpoint")
    url = require(params, "url")
    if not isinstance(url, str) or not re.match(r"https?://", url):
        raise StripeError(400, f"Invalid URL: {url}. Expected an http(s) URL.",
                          code="url_invalid", param="url")
    events = require(params, "enabled_events")
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        raise StripeError(400, "Invalid array: enabled_events", param="enabled_events")
    for i, name in enumerate(events):
        # Stripe checks names against its own catalogue; the stand-in takes any well-formed one
        # (it emits only a few), so a service subscribing to more is not refused.
        if not isinstance(name, str) or (name != "*" and not _EVENT_TYPE.fullmatch(name)):
            raise StripeError(400, f"Invalid enabled_events[{i}]: {name!r} is not an event type.",
                              code="parameter_invalid_string", param=f"enabled_events[{i}]")
    description = params.get("description")
    return {"url": url, "enabled_events": events,
            "description": description if isinstance(description, str) else None,
            "metadata": as_metadata(params.get("metadata"))}


def create(res: Resources, args: Obj, _g: Groups, ctx: Context) -> Obj:
    return res.webhooks.create(args["url"], args["enabled_events"], ctx.now,
                               description=args["description"], metadata=args["metadata"])


def _endpoint(res: Resources, endpoint_id: str) -> Obj:
    endpoint = res.webhooks.endpoints.get(endpoint_id)
    if endpoint is None:
        raise StripeError(404, f"No such webhook endpoint: '{endpoint_id}'",
                          code="resource_missing", param="id")
    return endpoint


def validate_none(params: Obj) -> Obj:
    reject_unknown(params, frozenset({"expand"}))
    _check_expand(params, "webhook_endpoint")
    return {}


def delete(res: Resources, _args: Obj, groups: Groups, _c: Context) -> Obj:
    _endpoint(res, groups["id"])
    res.webhooks.delete(groups["id"])
    return {"id": groups["id"], "object": "webhook_endpoint", "deleted": True}


def validate_list_endpoints(params: Obj) -> Obj:
    _check_expand(params, "webhook_endpoint", listed=True)
    return {"query": parse_list(params, frozenset())}


def list_endpoints(res: Resources, args: Obj, _g: Groups, _c: Context) -> Obj:
    # Endpoints are few and can be deleted, which the append-only Collection does not do:
    # a fresh one per list request costs only the endpoints' count.
    store = Collection()
    for endpoint in res.webhooks.endpoints.values():
        store[endpoint["id"]] = endpoint
    return list_page(store, args["query"], "/v1/webhook_endpoints", "webhook endpoint")


def validate_list_events(params: Obj) -> Obj:
    _check_expand(params, "event", listed=True)
    return {"query": parse_list(params, frozenset({"type", "created"}))}


def list_events(res: Resources, args: Obj, _g: Groups, _c: Context) -> Obj:
    store = res.events.store
    query = args["query"]
    wanted = dict(query.equals).get("type")
    if wanted is not None and "*" in wanted:
        # Stripe's `type=charge.*` group: a scan of the events, paid only by such a request.
        prefix = wanted.split("*", 1)[0]
        group = Collection()
        for event in store.ordered:
            if event["type"].startswith(prefix):
                group[event["id"]] = event
        store = group
        query = replace(query, equals=tuple(kv for kv in query.equals if kv[0] != "type"))
    return list_page(store, query, "/v1/events", "event")


def get_event(res: Resources, _args: Obj, groups: Groups, _c: Context) -> Obj:
    event = res.events.store.get(groups["id"])
    if event is None:
        raise StripeError(404, f"No such event: '{groups['id']}'", code="resource_missing",
                          param="id")
    return event


WEBHOOK_ROUTES: tuple[Route, ...] = (
    ("POST", re.compile(r"/v1/webhook_endpoints"), validate_create, create, _no_payment, True),
    ("GET", re.compile(r"/v1/webhook_endpoints"), validate_list_endpoints, list_endpoints,
     _no_payment, False),
    ("GET", re.compile(r"/v1/webhook_endpoints/(?P<id>[^/]+)"), validate_none,
     lambda r, a, g, c: _endpoint(r, g["id"]), _no_payment, False),
    ("DELETE", re.compile(r"/v1/webhook_endpoints/(?P<id>[^/]+)"), validate_none, delete,
     _no_payment, False),
    ("GET", re.compile(r"/v1/events"), validate_list_events, list_events, _no_payment, False),
    ("GET", re.compile(r"/v1/events/(?P<id>[^/]+)"), validate_none, get_event, _no_payment,
     False),
)
