"""The failpoints family: the target fails at a named point of its code (`/_admin/failpoints`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "failpoints"
# The failpoints `explore` draws for one step, as "point:action", most telling first: the
# commit after the charge fails.
STEP_FAILPOINTS = tuple(
    f"{point}:{action}"
    for point in ("before_commit", "after_charge", "before_charge")
    for action in ("drop_connection", "crash", "sleep")
)
# What a load nemesis arms, most telling first: the commit after the charge fails, the
# process dies right after the provider answered.
LOAD_FAILPOINTS = (("db-drop-before-commit", "before_commit", "drop_connection", 2),
                   ("crash-after-charge", "after_charge", "crash", 1))


def reach(abilities: Abilities) -> tuple[bool, str]:
    if abilities.in_process:
        return False, "an in-process Python target has no failpoints"
    if abilities.failpoints:
        return True, "the target offers /_admin/failpoints"
    return False, "the target offers no /_admin/failpoints"


def arm(ctx: NemesisContext, name: str, action: str, count: int = 1, ms: int = 0) -> Detail:
    """Arm one failpoint on the target; None when the target refuses (it offers none)."""
    from harness.targets.admin import RefusedError

    try:
        ctx.target.arm_failpoint(name, action, ms, count)
    except RefusedError:
        return None
    return {"failpoint": name, "fp_action": action, "count": count}


def _load_fault(kind: str, name: str, action: str, count: int) -> Fault:
    return Fault(kind, lambda ctx: arm(ctx, name, action, count))


def load_faults(ctx: NemesisContext) -> list[Fault]:
    # Offered whenever there is a target: one that has no failpoints refuses the first arm,
    # and the nemesis stops asking.
    if ctx.target_url is None or not ctx.failpoints:
        return []
    return [_load_fault(*entry) for entry in LOAD_FAILPOINTS]


def heal(ctx: NemesisContext) -> bool:
    """Disarm every failpoint the target holds; whether a target was asked to."""
    if ctx.target_url is None or not ctx.failpoints:
        return False
    ctx.target.clear_failpoints()
    return True


FAMILY = FaultFamily(NAME, reach, load_faults, heal)
