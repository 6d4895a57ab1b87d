"""The calls every reference variant instance offers (docs/CONTRACTS.md), free of SQLAlchemy."""

from __future__ import annotations

from typing import Protocol

from harness.clients.service import Service

# Kept apart from reference_impl.variants' Variant (which adds engine, store, failpoints)
# so the in-process client can name this type without loading SQLAlchemy.


class ReferenceService(Service, Protocol):
    """One simulated worker process of the reference service: the protocol plus its options."""

    def reconcile(self, force: bool = False) -> dict[str, int]: ...

    def close(self) -> None: ...


__all__ = ["ReferenceService", "Service"]
