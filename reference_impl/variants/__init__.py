"""The reference variants by name, built through `load(name, config)` (docs/CONTRACTS.md)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

from reference_impl.contract import ReferenceService

if TYPE_CHECKING:  # kept out of import time so the CLI can list variants cheaply
    from sqlalchemy import Engine

    from reference_impl.config import ServiceConfig
    from reference_impl.failpoints import Failpoints
    from reference_impl.provider import Provider
    from reference_impl.store import PaymentStore

# name -> "module:class"; modules are imported only when their variant is loaded.
VARIANTS: dict[str, str] = {
    "naive": "reference_impl.variants.naive:Naive",
    "mutex": "reference_impl.variants.mutex:Mutex",
    "pr145": "reference_impl.variants.pr145:Pr145",
    "safe": "reference_impl.variants.safe:Safe",
    "dunning": "reference_impl.variants.dunning:Dunning",
}


class Variant(ReferenceService, Protocol):
    """A variant instance: the service calls plus the parts tests and the app reach into."""

    name: str
    webhook_events: tuple[str, ...]
    engine: Engine
    store: PaymentStore
    failpoints: Failpoints
    provider: Provider

    def on_event(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...


class UnknownVariantError(ValueError):
    """A variant name that is not one of VARIANTS."""


def unknown_variant_message(name: str) -> str:
    return f"Unknown variant {name!r}; choose one of: {', '.join(VARIANTS)}"


def webhook_events(name: str) -> tuple[str, ...]:
    """The webhook events a variant acts on (none for most): what its endpoint subscribes to."""
    module_name, class_name = VARIANTS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    events: tuple[str, ...] = cls.webhook_events
    return events


def load(name: str, config: ServiceConfig) -> Variant:
    """Build one instance of the named variant."""
    target = VARIANTS.get(name)
    if target is None:
        raise UnknownVariantError(unknown_variant_message(name))
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    variant: Variant = cls(config)
    return variant


__all__ = ["VARIANTS", "UnknownVariantError", "Variant", "load", "unknown_variant_message",
           "webhook_events"]
