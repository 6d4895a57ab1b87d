"""The service protocol: what an in-process target instance offers (one per simulated worker)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

# The calls every in-process target must answer; `reconcile(force)`, `snapshot()`,
# `move_clock(seconds)` and `close()` are optional and looked up by name (docs/TARGETS.md).
REQUIRED_METHODS = ("create_payment", "charge", "get_payment")


@runtime_checkable
class Service(Protocol):
    """One simulated worker process of a target; every method must be thread-safe."""

    def create_payment(
        self, amount: int, currency: str, customer: str | None
    ) -> dict[str, Any]: ...

    def charge(
        self, payment_id: str, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any]]: ...

    def get_payment(self, payment_id: str) -> dict[str, Any] | None: ...


def missing_methods(obj: object) -> list[str]:
    """The required methods `obj` lacks (or has but cannot call)."""
    return [name for name in REQUIRED_METHODS if not callable(getattr(obj, name, None))]


def offers(obj: object, method: str) -> bool:
    """True when the instance offers the optional `method`."""
    return callable(getattr(obj, method, None))
