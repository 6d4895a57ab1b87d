"""The provider family: the stand-in fails, loses, delays and holds the provider's answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "provider"


def reach(abilities: Abilities) -> tuple[bool, str]:
    # The stand-in is payrace's own: its faults reach every target, whatever it offers.
    return True, "the stand-in loses, fails, delays and holds provider answers"


def arm(ctx: NemesisContext, rules: list[dict[str, Any]]) -> Detail:
    """Arm stand-in fault rules; the detail names them."""
    ctx.standin.arm([dict(rule) for rule in rules])
    return {"rules": rules}


def error_after_charge(ctx: NemesisContext) -> Detail:
    """The provider charges, then answers 500 (stored on the key, replayed for 24 h)."""
    return arm(ctx, [{"action": "error_after", "status": 500, "count": 3, "money": True}])


def error_before(ctx: NemesisContext) -> Detail:
    """The provider refuses a few requests before executing them: nothing is charged.

    Armed on its own, never beside `error_after`: a request refused before executing never
    reaches the after-action, so a combined burst would never charge-then-fail.
    """
    return arm(ctx, [{"action": "error_before", "status": 503, "count": 3, "should_retry": True}])


def load_faults(ctx: NemesisContext) -> list[Fault]:
    if ctx.standin_url is None:
        return []
    return [Fault("standin-500-after-charge", error_after_charge),
            Fault("standin-503-before", error_before)]


def heal(ctx: NemesisContext) -> int | None:
    """Disarm every stand-in fault (it also frees any request held at a gate); how many."""
    return ctx.standin.clear_faults() if ctx.standin_url is not None else None


FAMILY = FaultFamily(NAME, reach, load_faults, heal)
