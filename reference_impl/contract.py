"""The calls every reference variant instance offers (docs/CONTRACTS.md), free of SQLAlchemy."""

from __future__ import annotations

from typing import Any, Protocol

# Kept apart from reference_impl.variants' Variant (which adds engine, store, failpoints)
# so the in-process client can name this type without loading SQLAlchemy.


class Service(Protocol):
    """One simulated worker process of the reference service; every method is thread-safe."""

    def create_payment(
        self, amount: int, currency: str, customer: str | None
    ) -> dict[str, Any]: ...

    def charge(
        self, payment_id: str, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any]]: ...

    def get_payment(self, payment_id: str) -> dict[str, Any] | None: ...

    def reconcile(self, force: bool = False) -> dict[str, int]: ...

    def close(self) -> None: ...
