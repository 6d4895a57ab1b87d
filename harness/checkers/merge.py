"""Merging one checker's results over disjoint partitions of a run into the whole run's result.

A checker that judges payments one at a time can judge a run too large to hold partition by
partition; its `merge` (a `CheckerEntry` field, or a `merge` attribute on a user's checker
function) turns the partitions' results into the result the whole evidence would give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from harness.checkers._describe import time_order
from harness.checkers.result import CheckResult, Violation

Merge = Callable[[Sequence[CheckResult]], CheckResult]


def summed(parts: Sequence[CheckResult], keys: Iterable[str]) -> dict[str, Any]:
    """The counts of `keys` added up over the partitions, in the order of `keys`."""
    return {key: sum(part.stats[key] for part in parts) for key in keys}


def merged_violations(parts: Sequence[CheckResult]) -> list[Violation]:
    """Every partition's violations in the order the whole run's checker sorts them.

    `time_order` breaks ties by payment id, and a payment lives in one partition, so the
    stable sort leaves only one payment's own violations in their partition's order.
    """
    return sorted((v for part in parts for v in part.violations), key=time_order)


def crashed(result: CheckResult) -> bool:
    """A result `check_safe` made because the checker raised or returned something else."""
    return result.validity == "unknown" and ("exception" in result.stats
                                             or "returned" in result.stats)


def merge_results(name: str, merge: Merge, parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result: one partition's as it is, a crash as the first crash, else merged.

    A merge that raises yields `unknown` naming it, as a checker that raises does.
    """
    if len(parts) == 1:
        return parts[0]
    for part in parts:
        if crashed(part):
            return part
    try:
        merged = merge(parts)
    except Exception as exc:
        return CheckResult(name, "unknown", parts[0].severity,
                           f"merging checker {name}'s partitions raised "
                           f"{type(exc).__name__}: {exc}",
                           stats={"exception": type(exc).__name__, "message": str(exc)})
    return replace(merged, checker=name, severity=parts[0].severity)


__all__ = ["Merge", "crashed", "merge_results", "merged_violations", "summed"]
