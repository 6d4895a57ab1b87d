"""Event objects (`evt_…`): one per state change, listed by `GET /v1/events`, handed to webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from harness.stripe_standin.listing import Collection
from harness.stripe_standin.wire import new_id

Obj = dict[str, Any]
# The version the stand-in's objects follow; Stripe stamps each event with the account's.
API_VERSION = "2024-06-20"
Sink = Callable[[Obj, "str | None"], None]


class Events:
    """Every event, oldest first; `sink` (the webhook dispatcher) sees each one as it is made."""

    def __init__(self) -> None:
        self.store = Collection(indexed=("type",))
        self.sink: Sink | None = None

    def emit(
        self, event_type: str, obj: Obj, *, now: float, request_id: str | None,
        idempotency_key: str | None, payment_id: str | None,
    ) -> Obj:
        """Record one event whose `data.object` is `obj` as it is now.

        The snapshot is the object's JSON bytes (an orjson Fragment embedded as-is when the
        event is encoded): one C-speed encode, cheaper than a deep copy, and later changes to
        the live object (a refund on the charge) do not rewrite history. O(1) whoever listens.
        orjson's result keeps its 8 KiB working buffer, so an exact-size copy is what is kept.
        """
        event: Obj = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(now),
            "data": {"object": orjson.Fragment(bytes(memoryview(orjson.dumps(obj))))},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": event_type,
        }
        self.store[event["id"]] = event
        if self.sink is not None:
            self.sink(event, payment_id)
        return event

    def clear(self) -> None:
        self.store.clear()
