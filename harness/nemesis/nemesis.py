"""The nemesis: one run's fault families, set up on what it can reach, invoked, healed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext
from harness.nemesis.registry import families as registered

log = logging.getLogger("payrace.nemesis")
# How a nemesis tells the run what it did: the fault's kind and its detail (or why skipped).
Note = Callable[..., None]


class Nemesis:
    """The faults of the families a scenario (or an explore run) asked for, in their reach.

    `set_up` lists the faults; `invoke(kind)` injects one and says what it did, or None when
    the target turned out not to offer it; `heal` undoes what the families left armed;
    `tear_down` heals and closes the admin clients.
    """

    def __init__(self, family_names: Sequence[str], ctx: NemesisContext) -> None:
        self.families: list[FaultFamily] = registered(family_names)
        self.ctx = ctx
        self._faults: dict[str, Fault] = {}

    def set_up(self) -> Nemesis:
        self._faults = {fault.kind: fault
                        for family in self.families for fault in family.load_faults(self.ctx)}
        return self

    def offers(self) -> list[str]:
        """The kinds of fault this nemesis can inject, in its families' order."""
        return list(self._faults)

    def invoke(self, kind: str) -> Detail:
        return self._faults[kind].invoke(self.ctx)

    def heal(self) -> dict[str, Any]:
        """Undo what every family left armed; per family, what it undid or why it could not."""
        healed: dict[str, Any] = {}
        for family in self.families:
            try:
                healed[family.name] = family.heal(self.ctx)
            except Exception as exc:  # one part that cannot heal must not keep the rest armed
                log.warning("could not heal %s faults: %s", family.name, exc)
                healed[family.name] = f"failed: {exc}"
        return healed

    def tear_down(self) -> None:
        self.heal()
        self.ctx.close()

    def rounds(self, interval_s: float, note: Note) -> None:
        """Forever: one fault every `interval_s`, in shuffled rounds so every kind happens
        even in a short run; a kind the target refuses is noted once and not asked again."""
        kinds = self.offers()
        unreachable: set[str] = set()
        last: dict[str, float] = {}
        while True:
            for kind in self.ctx.rng.sample(kinds, len(kinds)):
                self.ctx.sleep(interval_s)
                if kind in unreachable or not self._due(kind, last):
                    continue
                last[kind] = self.ctx.clock()
                self._invoke_noted(kind, note, unreachable)
            if not kinds:
                self.ctx.sleep(interval_s)

    def _due(self, kind: str, last: dict[str, float]) -> bool:
        """Whether a fault with a minimum interval may come round again."""
        since = last.get(kind)
        return since is None or self.ctx.clock() - since >= self._faults[kind].min_interval_s

    def _invoke_noted(self, kind: str, note: Note, unreachable: set[str]) -> None:
        try:
            detail: dict[str, Any] | None = self.invoke(kind)
        except Exception as exc:  # a fault that cannot be injected is logged, not fatal
            error = f"{type(exc).__name__}: {exc}"
            log.warning("nemesis %s failed: %s", kind, error)
            note(kind, skipped=error)
            return
        if detail is None:
            unreachable.add(kind)  # e.g. the target has no failpoints: stop asking
            note(kind, skipped="not offered by this target")
        else:
            note(kind, **detail)


__all__ = ["Nemesis", "Note"]
