"""The workers family: a worker process of the service is SIGKILLed (no cleanup, no rollback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "workers"


def reach(abilities: Abilities) -> tuple[bool, str]:
    if abilities.in_process:
        return False, "in-process Python workers share payrace's process: none is killed"
    if abilities.service_pid:
        return True, f"a worker process of --service-pid {abilities.service_pid} is SIGKILLed"
    return False, "give --service-pid (the service's supervisor) to kill its workers"


def kill_one(ctx: NemesisContext) -> Detail:
    """SIGKILL one worker of the service, chosen by the nemesis's seeded generator."""
    from harness.errors import ProvisionError
    from harness.targets.workers import kill_workers

    try:
        killed = kill_workers(ctx.service_pid, only=ctx.rng.randrange(1 << 16))
    except ProvisionError:
        return None
    return {"pid": killed[0], "signal": "SIGKILL"} if killed else None


def load_faults(ctx: NemesisContext) -> list[Fault]:
    return [Fault("sigkill-worker", kill_one)] if ctx.service_pid else []


FAMILY = FaultFamily(NAME, reach, load_faults)
