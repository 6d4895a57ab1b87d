"""Every fault family payrace knows, registered once: adding one is its module plus a line here."""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import UsageError
from harness.nemesis import clock, database, failpoints, provider, webhooks, workers
from harness.nemesis.family import FaultFamily

# The order is the order of `--faults all`, of coverage banners and of the docs.
FAMILIES: tuple[FaultFamily, ...] = (
    provider.FAMILY,
    failpoints.FAMILY,
    database.FAMILY,
    clock.FAMILY,
    workers.FAMILY,
    webhooks.FAMILY,
)
FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)


def family(name: str) -> FaultFamily:
    """The registered family called `name`; an unknown name is bad input (exit 2)."""
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise UsageError(f"Unknown fault family {name!r}; expected one of {', '.join(FAMILY_NAMES)}")


def families(names: Sequence[str]) -> list[FaultFamily]:
    """The registered families called `names`, in the order given."""
    return [family(name) for name in names]


__all__ = ["FAMILIES", "FAMILY_NAMES", "families", "family"]
