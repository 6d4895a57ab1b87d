"""The nemesis role (harness.nemesis): the registry, a family added in one module, the rounds."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from typing import Any

import pytest

from harness.errors import UsageError
from harness.nemesis import (
    FAMILIES,
    FAMILY_NAMES,
    Fault,
    FaultFamily,
    Nemesis,
    NemesisContext,
    registry,
)
from harness.runner.spec import scenario_families
from harness.targets.abilities import Abilities, family_plan


@pytest.mark.parametrize("module", ["harness.nemesis", "harness.nemesis.clock",
                                    "harness.targets", "scenarios.common"])
def test_each_module_imports_first(module: str) -> None:
    """No import cycle: a locustfile may import the nemesis before anything else of payrace."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_registry_names_every_family_once_in_the_documented_order() -> None:
    assert FAMILY_NAMES == ("provider", "failpoints", "database", "clock", "workers", "webhooks")
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)
    assert registry.family("clock").name == "clock"
    with pytest.raises(UsageError, match="Unknown fault family 'meteor'; expected one of provider"):
        registry.family("meteor")


def test_a_family_is_one_module_plus_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new family, registered: coverage says whether it reaches a target, a nemesis runs it,
    heals it — and nothing else had to change."""
    calls: list[str] = []

    def reach(abilities: Abilities) -> tuple[bool, str]:
        return bool(abilities.service_pid), "the service's disk fills up"

    def fill(ctx: NemesisContext) -> dict[str, Any] | None:
        calls.append("fill")
        return {"bytes": 1 << 20}

    disk = FaultFamily("disk", reach, lambda ctx: [Fault("fill-disk", fill)],
                       lambda ctx: calls.append("heal") or "emptied")
    monkeypatch.setattr(registry, "FAMILIES", (*registry.FAMILIES, disk))
    monkeypatch.setattr(registry, "FAMILY_NAMES", (*registry.FAMILY_NAMES, "disk"))

    assert family_plan(Abilities(service_pid=3), ["disk"]) == [
        {"family": "disk", "applies": True, "why": "the service's disk fills up"}]
    nemesis = Nemesis(["disk"], NemesisContext()).set_up()
    assert nemesis.offers() == ["fill-disk"]
    assert nemesis.invoke("fill-disk") == {"bytes": 1 << 20}
    assert nemesis.heal() == {"disk": "emptied"}
    assert calls == ["fill", "heal"]


def test_faults_out_of_reach_are_not_offered() -> None:
    """Without a stand-in, a target, a pid or a database, a nemesis offers nothing of theirs."""
    nothing = Nemesis(FAMILY_NAMES, NemesisContext()).set_up()
    assert nothing.offers() == []
    some = Nemesis(FAMILY_NAMES, NemesisContext(target_url="http://127.0.0.1:9", service_pid=7,
                                                database_url="postgresql://x@127.0.0.1/db"))
    assert some.set_up().offers() == ["db-drop-before-commit", "crash-after-charge",
                                      "terminate-db-connections", "sigkill-worker"]
    known_without = NemesisContext(target_url="http://127.0.0.1:9", failpoints=False)
    assert Nemesis(["failpoints"], known_without).set_up().offers() == []


class _Stop(Exception):
    pass


def test_rounds_shuffle_every_kind_note_each_and_stop_asking_what_is_refused() -> None:
    """Every kind happens once per round, in seeded order; one the target refuses is noted as
    skipped once, one that raises is noted with its error, and the rounds go on."""
    invoked: list[str] = []
    sleeps: list[float] = []

    def make(kind: str, answer: Any) -> Fault:
        def invoke(ctx: NemesisContext) -> dict[str, Any] | None:
            invoked.append(kind)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return Fault(kind, invoke)

    family = FaultFamily("test", lambda a: (True, ""), lambda ctx: [
        make("ok", {"n": 1}), make("refused", None), make("broken", RuntimeError("no"))])
    ctx = NemesisContext(rng=random.Random(3))

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 6:
            raise _Stop

    ctx.sleep = sleep
    nemesis = Nemesis([], ctx)
    nemesis.families = [family]
    nemesis.set_up()
    notes: list[tuple[str, dict[str, Any]]] = []
    with pytest.raises(_Stop):
        nemesis.rounds(0.5, lambda kind, **detail: notes.append((kind, detail)))
    assert sleeps == [0.5] * 7
    assert sorted(invoked[:3]) == ["broken", "ok", "refused"]  # one round: each kind once
    assert invoked.count("refused") == 1  # not asked again
    assert ("refused", {"skipped": "not offered by this target"}) in notes
    assert ("broken", {"skipped": "RuntimeError: no"}) in notes
    assert notes.count(("ok", {"n": 1})) == 2


def test_a_fault_with_a_minimum_interval_waits_for_it_the_others_do_not() -> None:
    """An outage of the whole database is not for every round: its first time comes in the
    first round, the next only once its interval has passed; the other kinds go on."""
    invoked: list[tuple[float, str]] = []
    now = [0.0]

    def fault(kind: str, every: float = 0.0) -> Fault:
        return Fault(kind, lambda ctx: invoked.append((now[0], kind)) or {}, every)

    family = FaultFamily("test", lambda a: (True, ""), lambda ctx: [
        fault("cheap"), fault("also-cheap"), fault("outage", every=10.0)])
    ctx = NemesisContext(rng=random.Random(5), clock=lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] > 30:
            raise _Stop

    ctx.sleep = sleep
    nemesis = Nemesis([], ctx)
    nemesis.families = [family]
    nemesis.set_up()
    with pytest.raises(_Stop):
        nemesis.rounds(1.0, lambda kind, **detail: None)
    outages = [t for t, kind in invoked if kind == "outage"]
    assert outages[0] <= 3.0  # in the first round
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(outages)), outages
    assert 2 <= len(outages) <= 3, outages
    assert sum(1 for _, kind in invoked if kind == "cheap") == 10  # one per round, 30 s of 3


def test_scenarios_declare_their_families_and_a_plain_locustfile_gets_the_provider(
        tmp_path: Any) -> None:
    assert scenario_families("chaos") == (
        "provider", "clock", "webhooks", "failpoints", "workers", "database")
    assert scenario_families("pr_proof") == ()
    assert scenario_families("webhook_storm") == ("provider", "webhooks")
    plain = tmp_path / "mine.py"
    plain.write_text("from locust import HttpUser\n")
    assert scenario_families(str(plain)) == ("provider",)
    declared = tmp_path / "theirs.py"
    declared.write_text("FAULT_FAMILIES: tuple[str, ...] = ('provider', 'database')\n")
    assert scenario_families(str(declared)) == ("provider", "database")
    # As `payrace run` asks: by the path it resolved (its name alone is not a scenario's).
    assert scenario_families(declared) == ("provider", "database")
