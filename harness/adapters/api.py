"""The adapter API a user writes against: requests as data, answers classified ok / fail / info."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.history import Classified

# The methods an adapter must have; `load_adapter` names the ones a user's class lacks.
REQUIRED = ("create", "created", "charge", "charged", "read", "payment")


@dataclass(frozen=True)
class Request:
    """One HTTP request, as data: explore (httpx), Locust and the read-back all send it."""

    method: str
    path: str  # relative to --target, starting with "/"
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # How Locust groups this request in its statistics; default "<METHOD> <path>".
    name: str | None = None


@dataclass(frozen=True)
class Answer:
    """What the service answered: its status, its JSON body (None if not JSON) and its text.

    `request` is the Request it answers, for an API whose answer does not repeat what the
    client sent (e.g. a payment id the client chose, answered `204`).
    """

    status: int
    body: Any
    text: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    request: Request | None = None


def ok(value: Mapping[str, Any] | None = None) -> Classified:
    """It happened. For `created`, the value carries the new payment's "id"."""
    return Classified("ok", dict(value) if value is not None else {}, None)


def fail(reason: str, value: Mapping[str, Any] | None = None, **detail: Any) -> Classified:
    """It certainly did not happen (a decline, a rejected request). Never for a 5xx."""
    error = {"kind": "rejected", "status": None, "message": reason, **detail}
    return Classified("fail", dict(value) if value is not None else None, error)


def info(reason: str, value: Mapping[str, Any] | None = None, **detail: Any) -> Classified:
    """Unknown: it may or may not have happened (accepted, still processing, any surprise)."""
    error = {"kind": "unknown", "status": None, "message": reason, **detail}
    return Classified("info", dict(value) if value is not None else None, error)


class Adapter(Protocol):
    """How to create, charge and read a payment on one service, and what each answer means.

    Timeouts, resets and refused connections never reach an adapter: they are `info`.
    A 5xx an adapter calls `fail` is recorded as `info` (the law of docs/TARGETS.md).
    """

    def create(self, amount: int, currency: str, customer: str | None) -> Request: ...

    def created(self, answer: Answer) -> Classified: ...

    def charge(self, payment_id: str, key: str | None) -> Request: ...

    def charged(self, answer: Answer) -> Classified: ...

    def read(self, payment_id: str) -> Request: ...

    def payment(self, answer: Answer) -> Classified: ...
