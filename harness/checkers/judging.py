"""Judging one group of linked partitions: its evidence rebuilt from spilled chunks, then the suite.

The same function judges a group in this process or in a worker process
(harness.checkers.pool): it takes only picklable values and returns only picklable ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from harness.checkers.evidence import Evidence
from harness.checkers.pool import inherited_files
from harness.checkers.registry import Suite
from harness.checkers.result import CheckResult
from harness.checkers.spill import Location, read_rows
from harness.checkers.suite import run_all
from harness.gc_pause import gc_paused
from harness.history import read_ops
from harness.jsonl import parse_lines, parse_values

Tally = Callable[[Evidence], Any]


@dataclass(frozen=True, eq=False)
class PartEvidence(Evidence):
    """The evidence of some payments of a larger run: times stay on the whole run's clock."""

    run_origin: float | None = None

    @cached_property
    def origin(self) -> float | None:
        return self.run_origin


@dataclass(frozen=True)
class Settings:
    """What every group is judged with: the suite, the counts to take, the run's facts."""

    checkers: Suite
    tally: Tally | None
    reconciled: bool
    settled_how: str | None
    origin: float | None


@dataclass(frozen=True)
class Group:
    """Where one group's spilled evidence is: its ledger lines and DB rows (None: no DB view)
    on the first spill file, its history lines as (spill file's place, its chunks) for each
    file that holds ops."""

    history: list[tuple[int, list[Location]]]
    ledger: list[Location]
    db: list[Location] | None


def judge_group(settings: Settings, group: Group, files: Sequence[int] | None = None,
                ) -> tuple[list[CheckResult], Any]:
    """The suite's results over the group's evidence, and its tally (None without one).

    `files` are this process's descriptors of the spill files; a worker of `judging_pool`
    has them already (`inherited_files`).

    Every line was parsed and checked by the routing pass, so parsing it again cannot fail.
    """
    files = files if files is not None else inherited_files()
    rest = files[0]
    with gc_paused():
        evidence = PartEvidence(
            history=read_rows(
                [(files[n], located) for n, located in group.history], read_ops).values,
            ledger=read_rows([(rest, group.ledger)], parse_lines).values,
            db=None if group.db is None else read_rows([(rest, group.db)], parse_values).values,
            reconciled=settings.reconciled,
            settled_how=settings.settled_how,
            run_origin=settings.origin,
        )
        results = run_all(evidence, checkers=settings.checkers)
        return results, None if settings.tally is None else settings.tally(evidence)


__all__ = ["Group", "PartEvidence", "Settings", "Tally", "judge_group"]
