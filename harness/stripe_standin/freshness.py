"""Search freshness: which objects search does not see yet, and the older copy it sees instead."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


class Freshness:
    """Per object, when search catches up with its last write (the stand-in's clock).

    Stripe's search index lags behind writes by up to a minute
    (https://docs.stripe.com/search#data-freshness); retrieve and list never lag. A new object
    is absent from search until then; an object written again (a confirmed PaymentIntent) shows
    search the copy it had before that write.
    """

    def __init__(self) -> None:
        # id -> (visible_at, the copy search shows meanwhile, or None: not indexed yet)
        self._lagging: dict[str, tuple[float, Obj | None]] = {}

    def created(self, obj: Obj, now: float, lag_s: float) -> None:
        """A request just created `obj`: search does not see it for `lag_s` seconds."""
        if lag_s > 0:
            self._lagging[obj["id"]] = (now + lag_s, None)

    def updating(self, obj: Obj, now: float, lag_s: float) -> None:
        """A request is about to change `obj`: search keeps showing it as it is now."""
        if lag_s <= 0:
            return
        pending = self._lagging.get(obj["id"])
        # Still lagging from an earlier write: search keeps what it showed before that one.
        stale = pending[1] if pending is not None and pending[0] > now else copy.deepcopy(obj)
        self._lagging[obj["id"]] = (now + lag_s, stale)

    def view(self, obj: Obj, now: float) -> Obj | None:
        """What search shows of `obj` now: the object, an older copy, or None (not indexed)."""
        pending = self._lagging.get(obj["id"])
        if pending is None:
            return obj
        if pending[0] <= now:
            del self._lagging[obj["id"]]  # caught up: forget it, so the table stays small
            return obj
        return pending[1]

    def clear(self) -> None:
        self._lagging.clear()
