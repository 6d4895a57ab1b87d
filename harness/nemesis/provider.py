"""The provider family: the stand-in fails, loses, delays and holds the provider's answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "provider"
# The faults `explore` draws for one step, most telling first: the charge is made and its
# answer is lost.
STEP_FAULTS = (
    "drop_after",
    "error_after",
    "hang_after",
    "error_before",
    "rate_limit",
    "latency",
    # The charge is made and its answer lost (drop_after) while search does not show it yet:
    # lag alone changes nothing for a service that heard its answer.
    "search_lag",
)
# How long a step's search_lag hides a charge: Stripe's "up to a minute", on the stand-in's
# clock, longer than an example runs; a day passing (expire_keys, a late retry) ends it.
SEARCH_LAG_MS = 60_000


def reach(abilities: Abilities) -> tuple[bool, str]:
    # The stand-in is payrace's own: its faults reach every target, whatever it offers.
    return True, "the stand-in loses, fails, delays and holds provider answers"


def arm(ctx: NemesisContext, rules: list[dict[str, Any]]) -> Detail:
    """Arm stand-in fault rules; the detail names them."""
    ctx.standin.arm([dict(rule) for rule in rules])
    return {"rules": rules}


def step_rules(fault: str, payment_id: str | None, *, latency_ms: int,
               hang_ms: int) -> list[dict[str, Any]]:
    """The stand-in rules of one step's provider fault, on the request that can move money
    (a service may talk to the provider first — create a PaymentIntent — and charge later)
    and, given a payment, on that payment's requests only."""
    armed: dict[str, Any] = {"action": fault, "count": 1, "money": True}
    if payment_id is not None:
        armed["payment_id"] = payment_id
    if fault == "latency":
        armed["ms"] = latency_ms
    elif fault == "hang_after":
        armed["ms"] = hang_ms
    rules = [armed]
    if fault == "search_lag":
        # The same request's answer is lost too (ledger fault "search_lag+drop_after").
        rules.append(dict(armed, action="drop_after"))
        armed["ms"] = SEARCH_LAG_MS
    return rules


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
