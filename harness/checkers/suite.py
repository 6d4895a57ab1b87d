"""The standard checker suite: every checker, each wrapped by check_safe, run over one evidence."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from functools import partial

from harness.checkers.charge_bounds import check_charge_bounds
from harness.checkers.compose import Checker, check_safe
from harness.checkers.db_consistency import check_db_consistency
from harness.checkers.enough_work import (
    DEFAULT_MIN_CHARGES,
    DEFAULT_MIN_COMPLETED,
    check_enough_work,
    validate_minimums,
)
from harness.checkers.evidence import Evidence
from harness.checkers.no_duplicate_charge import check_no_duplicate_charge
from harness.checkers.result import CheckResult, Severity
from harness.checkers.retry_key_stability import check_retry_key_stability
from harness.checkers.target_contract import check_target_contract

# name → (checker, severity); the order is the order of the report's invariants table.
SAFETY_CHECKERS: dict[str, tuple[Checker, Severity]] = {
    "no-duplicate-charge": (check_no_duplicate_charge, "error"),
    "charge-bounds": (check_charge_bounds, "error"),
    "db-consistency": (check_db_consistency, "error"),
    "target-contract": (check_target_contract, "error"),
    "retry-key-stability": (check_retry_key_stability, "warning"),
}


def standard_checkers(
    min_charges: int = DEFAULT_MIN_CHARGES,
    min_completed: int = DEFAULT_MIN_COMPLETED,
) -> dict[str, tuple[Checker, Severity]]:
    """The full suite: the safety checkers plus enough-work with the given minimums."""
    validate_minimums(min_charges, min_completed)
    work: Checker = partial(check_enough_work, min_charges=min_charges, min_completed=min_completed)
    return {**SAFETY_CHECKERS, "enough-work": (work, "error")}


def run_all(
    evidence: Evidence,
    *,
    min_charges: int = DEFAULT_MIN_CHARGES,
    min_completed: int = DEFAULT_MIN_COMPLETED,
    checkers: Mapping[str, tuple[Checker, Severity]] | None = None,
) -> list[CheckResult]:
    """Run every checker over the evidence; one that raises yields `unknown`, the rest still run.

    Compose the results with `compose(results)` and map them with `verdict(...)`.
    Bad minimums raise UsageError (exit 2) before anything runs.
    """
    suite = standard_checkers(min_charges, min_completed) if checkers is None else checkers
    # Checkers build large acyclic indexes; the cyclic GC would rescan the whole evidence each
    # time they grow (a third of the time on a million ops) and could free nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [check_safe(fn, name, severity)(evidence) for name, (fn, severity) in suite.items()]
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["SAFETY_CHECKERS", "run_all", "standard_checkers"]
