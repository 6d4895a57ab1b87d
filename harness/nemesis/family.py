"""The nemesis role's contract: a fault family, the faults it offers, how far it reaches."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.provision.pg_control import PgControl
    from harness.stripe_standin import StandinAdmin
    from harness.targets.abilities import Abilities
    from harness.targets.admin import TargetAdmin

# What an invoked fault did (logged with the run), or None: the target does not offer it.
Detail = dict[str, Any] | None


@dataclass
class NemesisContext:
    """What a nemesis can reach: the stand-in, the target's `/_admin`, its supervisor, its database.

    Built by whoever runs the nemesis (a scenario from its Locust options, `payrace run` from
    its stack); a part that is None or 0 is out of reach, and its faults are not offered.
    `sleep` is the caller's: gevent's under Locust, so a wait never blocks the users.
    """

    standin_url: str | None = None
    target_url: str | None = None
    service_pid: int = 0
    database_url: str | None = None
    # The target offers POST /_admin/clock: its clock moves before the provider's does.
    target_clock: bool = False
    # False: the target is known to offer no /_admin/failpoints (True: ask, it may refuse).
    failpoints: bool = True
    # The PostgreSQL server itself, when payrace started it: it may be stopped and started.
    postgres: PgControl | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # spaces out the faults with a minimum interval

    @cached_property
    def standin(self) -> StandinAdmin:
        from harness.stripe_standin import StandinAdmin

        if self.standin_url is None:
            raise RuntimeError("no stand-in in this nemesis's reach")  # a family bug, not input
        return StandinAdmin(self.standin_url)

    @cached_property
    def target(self) -> TargetAdmin:
        from harness.targets.admin import TargetAdmin

        if self.target_url is None:
            raise RuntimeError("no target in this nemesis's reach")
        return TargetAdmin(self.target_url)

    def close(self) -> None:
        """Close the admin clients this context opened."""
        for name in ("standin", "target"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()


@dataclass(frozen=True)
class Fault:
    """One fault a load nemesis can inject: its kind (as logged) and how to invoke it."""

    kind: str
    invoke: Callable[[NemesisContext], Detail]
    # A fault too costly for every round (an outage of the whole database) waits this long
    # after its last time; the first time is never held back.
    min_interval_s: float = 0.0


@dataclass(frozen=True)
class FaultFamily:
    """A family of faults, registered once in `harness.nemesis.registry`.

    `reach`: whether the family applies to a target with these abilities, and why (the
    coverage banner and summary.json say it). `load_faults`: the faults a load nemesis cycles
    through, those in the context's reach. `heal`: undo whatever the family left armed, and
    say what it undid (None: nothing to undo).
    """

    name: str
    reach: Callable[[Abilities], tuple[bool, str]]
    load_faults: Callable[[NemesisContext], list[Fault]] = lambda _ctx: []
    heal: Callable[[NemesisContext], Any] = lambda _ctx: None


__all__ = ["Detail", "Fault", "FaultFamily", "NemesisContext"]
