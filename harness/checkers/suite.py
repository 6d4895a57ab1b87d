"""The standard suite: every registered checker, each wrapped by check_safe, over one evidence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import partial

from harness.checkers.compose import Checker, check_safe
from harness.checkers.enough_work import (
    DEFAULT_MIN_CHARGES,
    DEFAULT_MIN_COMPLETED,
    check_enough_work,
    validate_minimums,
)
from harness.checkers.evidence import Evidence
from harness.checkers.registry import BUILTIN, CheckerEntry, per_example, suite_of
from harness.checkers.result import CheckResult, Severity
from harness.gc_pause import gc_paused

# name → (checker, severity) of the built-in checkers that judge each example, in order.
SAFETY_CHECKERS: dict[str, tuple[Checker, Severity]] = per_example()


def standard_checkers(
    min_charges: int = DEFAULT_MIN_CHARGES,
    min_completed: int = DEFAULT_MIN_COMPLETED,
    *,
    extra: Iterable[CheckerEntry] = (),
) -> dict[str, tuple[Checker, Severity]]:
    """The full suite in registry order, enough-work with the given minimums, then `extra`."""
    validate_minimums(min_charges, min_completed)
    work: Checker = partial(check_enough_work, min_charges=min_charges, min_completed=min_completed)
    entries = [replace(e, check=work) if e.check is check_enough_work else e for e in BUILTIN]
    return suite_of([*entries, *extra])


def run_all(
    evidence: Evidence,
    *,
    min_charges: int = DEFAULT_MIN_CHARGES,
    min_completed: int = DEFAULT_MIN_COMPLETED,
    checkers: Mapping[str, tuple[Checker, Severity]] | None = None,
) -> list[CheckResult]:
    """Run every checker over the evidence; one that raises yields `unknown`, the rest still run.

    Each result carries the name and severity it is registered under, whatever the checker
    itself wrote. Compose the results with `compose(results)` and map them with `verdict(...)`.
    Bad minimums raise UsageError (exit 2) before anything runs.
    """
    suite = standard_checkers(min_charges, min_completed) if checkers is None else checkers
    # Checkers build large acyclic indexes: the collector could free nothing in them.
    with gc_paused():
        return [
            _registered(check_safe(fn, name, severity)(evidence), name, severity)
            for name, (fn, severity) in suite.items()
        ]


def _registered(result: CheckResult, name: str, severity: Severity) -> CheckResult:
    # A user's checker may name itself otherwise or say "error" where it was registered as a
    # warning: the registration decides, so the verdict follows what the user asked for.
    if (result.checker, result.severity) == (name, severity):
        return result
    return replace(result, checker=name, severity=severity)


__all__ = ["SAFETY_CHECKERS", "run_all", "standard_checkers"]
