"""Stripe's list endpoints: objects in creation order, cursor pages, filters by field and date."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.stripe_standin.wire import StripeError, reject_unknown

Obj = dict[str, Any]
PAGING_PARAMS = frozenset({"expand", "limit", "starting_after", "ending_before"})
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
_RANGE_KEYS = ("gt", "gte", "lt", "lte")
_INTEGER = re.compile(r"-?\d+")


class Collection(dict[str, Obj]):
    """The objects of one kind by id, also kept in creation order with an index per filter field.

    A dict subclass so every existing `store[id] = obj` and `store.get(id)` works unchanged:
    only storing a new id pays for the order and the indexes (a few appends, O(1)), so lists
    never make creating a charge slower. Indexed fields must never change after creation
    (`payment_intent` on a Charge, `charge` on a Refund): the index is written once.
    """

    def __init__(self, indexed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.indexed = indexed
        self.ordered: list[Obj] = []  # creation order, oldest first
        self.seq: dict[str, int] = {}  # id -> position in `ordered`: the tie-break on `created`
        self.by: dict[str, dict[str, list[Obj]]] = {name: {} for name in indexed}
        # (metadata key, value) -> objects, oldest first: search's `metadata['k']:'v'` reads
        # only these instead of every object (the stand-in never changes metadata once made).
        self.by_metadata: dict[tuple[str, str], list[Obj]] = {}
        # `created` is whole seconds of a clock that only moves forward, so creation order is
        # date order; only a wall clock stepped back (NTP) breaks that, and lists then sort.
        self.disordered = False

    def __setitem__(self, key: str, obj: Obj) -> None:
        if key not in self.seq:
            if self.ordered and obj["created"] < self.ordered[-1]["created"]:
                self.disordered = True
            self.seq[key] = len(self.ordered)
            self.ordered.append(obj)
            for name in self.indexed:
                value = obj.get(name)
                if isinstance(value, str):
                    self.by[name].setdefault(value, []).append(obj)
            for meta in (obj.get("metadata") or {}).items():
                self.by_metadata.setdefault(meta, []).append(obj)
        super().__setitem__(key, obj)

    def clear(self) -> None:
        super().clear()
        self.ordered.clear()
        self.seq.clear()
        for index in self.by.values():
            index.clear()
        self.by_metadata.clear()
        self.disordered = False

    def candidates(self, clauses: list[tuple[str, str]]) -> list[Obj]:
        """Oldest first, every object that may match the clauses: those carrying the first
        metadata clause's pair when there is one, else all."""
        for name, value in clauses:
            if name.startswith("metadata."):
                return self.by_metadata.get((name[len("metadata."):], value), [])
        return self.ordered

    def sort_key(self, obj: Obj) -> tuple[int, int]:
        """Oldest first by `created`, ties by creation order; lists read it backwards."""
        return obj["created"], self.seq[obj["id"]]


@dataclass(frozen=True)
class ListQuery:
    """A validated list request: page size, at most one cursor, field filters, a date range."""

    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None
    equals: tuple[tuple[str, str], ...] = ()
    created_min: int | None = None  # inclusive bounds: `gt` and `lt` are turned into these
    created_max: int | None = None


def _int(value: Any, param: str) -> int:
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer",
                          param=param)
    return int(value)


def _limit(value: Any) -> int:
    number = _int(value, "limit")
    # Stripe's wording for a number outside the range the parameter takes.
    if number < 1:
        raise StripeError(400, "This value must be greater than or equal to 1.",
                          code="parameter_invalid_integer", param="limit")
    if number > MAX_LIMIT:
        raise StripeError(400, f"This value must be less than or equal to {MAX_LIMIT}.",
                          code="parameter_invalid_integer", param="limit")
    return number


def _id(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise StripeError(400, f"Invalid string: {value!r}", code="parameter_invalid_string",
                          param=param)
    return value


def _created(value: Any) -> tuple[int | None, int | None]:
    """`created=<int>` or `created[gt|gte|lt|lte]=<int>` as inclusive (min, max) bounds."""
    if isinstance(value, str):
        exact = _int(value, "created")
        return exact, exact
    if not isinstance(value, dict) or not value:
        raise StripeError(
            400, "Invalid created: pass an integer, or a hash with gt, gte, lt or lte.",
            param="created",
        )
    low: int | None = None
    high: int | None = None
    for op, raw in value.items():
        param = f"created[{op}]"
        if op not in _RANGE_KEYS:
            raise StripeError(400, f"Received unknown parameter: {param}",
                              code="parameter_unknown", param=param)
        bound = _int(raw, param)
        if op in ("gt", "gte"):
            bound += op == "gt"
            low = bound if low is None else max(low, bound)
        else:
            bound -= op == "lt"
            high = bound if high is None else min(high, bound)
    return low, high


def parse_list(params: dict[str, Any], filters: frozenset[str]) -> ListQuery:
    """Validate a list request's parameters; `filters` are those the endpoint offers."""
    reject_unknown(params, PAGING_PARAMS | filters)
    after = _id(params["starting_after"], "starting_after") if "starting_after" in params else None
    before = _id(params["ending_before"], "ending_before") if "ending_before" in params else None
    if after is not None and before is not None:
        # Stripe documents the two as alternatives; one direction per request is decided here.
        raise StripeError(
            400, "You may pass starting_after or ending_before, but not both.",
            code="parameters_exclusive", param="ending_before",
        )
    low, high = _created(params["created"]) if "created" in params else (None, None)
    equals = tuple(
        (name, _id(params[name], name)) for name in sorted(filters - {"created"}) if name in params
    )
    return ListQuery(
        limit=_limit(params["limit"]) if "limit" in params else DEFAULT_LIMIT,
        starting_after=after, ending_before=before, equals=equals,
        created_min=low, created_max=high,
    )


def _candidates(store: Collection, query: ListQuery) -> list[Obj]:
    """Objects passing the field filters, oldest first: an index when there is one, else a scan."""
    rest = list(query.equals)
    found: list[Obj] = store.ordered
    for name, value in query.equals:
        if name in store.by:
            found = store.by[name].get(value, [])
            rest.remove((name, value))
            break
    if rest:
        # Fields without an index (`customer`, which no stand-in object carries yet) cost a scan
        # of the list request only, never of the charge path.
        found = [o for o in found if all(o.get(name) == value for name, value in rest)]
    if store.disordered:
        found = sorted(found, key=store.sort_key)
    return found


def _cursor(store: Collection, object_id: str, noun: str, param: str) -> Obj:
    obj = store.get(object_id)
    if obj is None:
        raise StripeError(400, f"No such {noun}: '{object_id}'", code="resource_missing",
                          param=param)
    return obj


def list_page(store: Collection, query: ListQuery, url: str, noun: str) -> dict[str, Any]:
    """One page in Stripe's list envelope, newest first; `noun` names the kind in errors."""
    found = _candidates(store, query)
    created: Callable[[Obj], int] = lambda o: o["created"]  # noqa: E731
    lo, hi = 0, len(found)
    if query.created_min is not None:
        lo = bisect_left(found, query.created_min, key=created)
    if query.created_max is not None:
        hi = bisect_right(found, query.created_max, key=created)
    if query.starting_after is not None:
        mark = store.sort_key(_cursor(store, query.starting_after, noun, "starting_after"))
        hi = min(hi, bisect_left(found, mark, key=store.sort_key))
    if query.ending_before is not None:
        mark = store.sort_key(_cursor(store, query.ending_before, noun, "ending_before"))
        lo = max(lo, bisect_right(found, mark, key=store.sort_key))
    if hi <= lo:
        page: list[Obj] = []
        has_more = False
    elif query.ending_before is not None:
        # Backwards: the `limit` objects just newer than the cursor, still shown newest first.
        page = found[lo:min(hi, lo + query.limit)]
        has_more = lo + query.limit < hi
    else:
        page = found[max(lo, hi - query.limit):hi]
        has_more = hi - query.limit > lo
    page.reverse()
    return {"object": "list", "url": url, "has_more": has_more, "data": page}
