"""The webhooks family: events reach the service twice, late, out of order, or lost then resent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext
from harness.nemesis.provider import arm

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "webhooks"
# The delivery faults `explore` draws, most telling first, "+" for several at once: the same
# event twice (what at-least-once delivery means), alone or with events out of order or late;
# or an event lost and sent again.
STEP_FAULTS = (
    "webhook_duplicate",
    "webhook_duplicate+webhook_reorder",
    "webhook_duplicate+webhook_delay",
    "webhook_drop_then_redeliver",
)
# Short enough that an example's teardown waits little for them, long enough to let a
# later step's request (or the next event) overtake the delivery.
TIMINGS: dict[str, dict[str, int]] = {"webhook_delay": {"ms": 150},
                                      "webhook_reorder": {"timeout_ms": 300},
                                      "webhook_drop_then_redeliver": {"ms": 100}}


def reach(abilities: Abilities) -> tuple[bool, str]:
    if abilities.webhooks is False:
        return False, (
            "no webhook endpoint is registered at the stand-in (register your receiver through "
            "Stripe's API, or start the stand-in with --webhook URL)"
        )
    return True, (
        "the stand-in duplicates, delays, reorders, or drops then redelivers the webhook "
        "deliveries of the events to the endpoints the service registered"
    )


def payment_rules(kind: str, payment_ids: list[str]) -> list[dict[str, Any]]:
    """Rules arming `kind` ("+" for several at once) on every event of these payments only:
    on a shared stand-in, other clients' events are left alone."""
    return [{"action": action, "payment_id": pid, **TIMINGS.get(action, {})}
            for pid in payment_ids for action in kind.split("+")]


def takes_webhooks(ctx: NemesisContext) -> bool:
    """Whether an endpoint is registered at the stand-in (the service subscribed to events)."""
    if ctx.standin_url is None:
        return False
    try:
        return bool(ctx.standin.webhooks()["endpoints"])
    except Exception:  # an older stand-in, or none: no webhook faults, the rest goes on
        return False


def twice_and_late(ctx: NemesisContext) -> Detail:
    """The next events reach the service twice, late, or after a later one: at least once and
    in no promised order, as Stripe delivers them."""
    return arm(ctx, [{"action": "webhook_duplicate", "count": 4},
                     {"action": "webhook_reorder", "count": 2, "timeout_ms": 500},
                     {"action": "webhook_delay", "count": 2, "ms": 300}])


def load_faults(ctx: NemesisContext) -> list[Fault]:
    # Only where an endpoint is registered: the schedule of other targets stays as it was.
    return [Fault("webhooks-twice-and-late", twice_and_late)] if takes_webhooks(ctx) else []


FAMILY = FaultFamily(NAME, reach, load_faults)
