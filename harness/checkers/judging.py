"""Judging one group of linked partitions: its evidence rebuilt from spilled chunks, then the suite.

The same function judges a group in this process or in a worker process
(harness.checkers.pool): it takes only picklable values and returns only picklable ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from harness.checkers.evidence import Evidence
from harness.checkers.registry import Suite
from harness.checkers.result import CheckResult
from harness.checkers.spill import Chunk, unpack
from harness.checkers.suite import run_all
from harness.gc_pause import gc_paused
from harness.history import Op, op_fields
from harness.jsonl import parse_line

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
    """One group's spilled evidence: history and ledger lines, DB rows (None: no DB view)."""

    history: list[Chunk]
    ledger: list[Chunk]
    db: list[Chunk] | None


def judge_group(settings: Settings, group: Group) -> tuple[list[CheckResult], Any]:
    """The suite's results over the group's evidence, and its tally (None without one).

    Every line was parsed and checked by the routing pass, so parsing it again cannot fail.
    """
    with gc_paused():
        evidence = PartEvidence(
            history=_ops(unpack(group.history, True)),
            ledger=[parse_line(line) for _, line in unpack(group.ledger, True)],
            db=None if group.db is None else [row for _, row in unpack(group.db, False)],
            reconciled=settings.reconciled,
            settled_how=settings.settled_how,
            run_origin=settings.origin,
        )
        results = run_all(evidence, checkers=settings.checkers)
        return results, None if settings.tally is None else settings.tally(evidence)


def _ops(rows: list[tuple[int, bytes]]) -> list[Op]:
    """The group's ops from their lines: `parse_line` less its checks, the router's already."""
    ops = []
    for _, line in rows:
        try:
            data = orjson.loads(line)
        except ValueError:  # a line orjson refuses and the standard library reads (NaN)
            data = parse_line(line)
        ops.append(Op(*op_fields(data)))
    return ops


__all__ = ["Group", "PartEvidence", "Settings", "Tally", "judge_group"]
