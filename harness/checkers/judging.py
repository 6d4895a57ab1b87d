"""Judging one group of linked partitions: its evidence rebuilt from spilled chunks, then the suite.

The same function judges a group in this process or in a worker process
(harness.checkers.pool): it takes only picklable values and returns only picklable ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from harness.checkers.evidence import Evidence
from harness.checkers.pool import inherited_files
from harness.checkers.registry import Suite
from harness.checkers.result import CheckResult
from harness.checkers.spill import Location, read_chunks, unpack
from harness.checkers.suite import run_all
from harness.gc_pause import gc_paused
from harness.history import Op, make_op, op_fields
from harness.jsonl import corrupt, parse_line

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
    history: str = "history.jsonl"  # the file the ops were read from, to name in an error


@dataclass(frozen=True)
class Group:
    """Where one group's spilled evidence is: its ledger lines and DB rows (None: no DB view)
    on the first spill file, its history lines on the others (one list for each)."""

    history: list[list[Location]]
    ledger: list[Location]
    db: list[Location] | None


def judge_group(settings: Settings, group: Group, files: Sequence[int] | None = None,
                ) -> tuple[list[CheckResult], Any]:
    """The suite's results over the group's evidence, and its tally (None without one).

    `files` are this process's descriptors of the spill files; a worker of `judging_pool`
    has them already (`inherited_files`).

    The ledger's lines were parsed and checked by the routing pass, so parsing them again
    cannot fail; most history lines were routed by their first fields alone
    (`routing.leading_fields`), and one that is damaged is refused here, as the routing pass
    refuses a damaged line (UsageError naming the file and the line).
    """
    rest, *ops = files if files is not None else inherited_files()
    with gc_paused():
        history = [chunk for fd, located in zip(ops, group.history, strict=True)
                   for chunk in read_chunks(fd, located)]
        evidence = PartEvidence(
            history=_ops(unpack(history, True), settings.history),
            ledger=[parse_line(line) for _, line in unpack(read_chunks(rest, group.ledger), True)],
            db=None if group.db is None
            else [row for _, row in unpack(read_chunks(rest, group.db), False)],
            reconciled=settings.reconciled,
            settled_how=settings.settled_how,
            run_origin=settings.origin,
        )
        results = run_all(evidence, checkers=settings.checkers)
        return results, None if settings.tally is None else settings.tally(evidence)


def _ops(rows: list[tuple[int, bytes]], path: str) -> list[Op]:
    """The group's ops from their lines, each checked as `scan_jsonl` checks a history line
    (none is blank or torn: the routing pass read those)."""
    ops = []
    loads, make = orjson.loads, make_op
    for number, line in rows:
        try:
            try:
                data = loads(line)
            except ValueError:  # a line orjson refuses and the standard library reads (NaN)
                data = parse_line(line)
            if type(data) is not dict:
                raise ValueError("expected a JSON object")
            ops.append(make(*op_fields(data)))
        except (ValueError, TypeError) as exc:
            raise corrupt(path, "history op", number, exc) from exc
    return ops


__all__ = ["Group", "PartEvidence", "Settings", "Tally", "judge_group"]
