"""The one list of checkers: each one's name, function, severity, description and place in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.checkers import (
    charge_bounds,
    db_consistency,
    enough_work,
    no_duplicate_charge,
    retry_key_stability,
    target_contract,
)
from harness.checkers.compose import Checker
from harness.checkers.merge import Merge
from harness.checkers.result import Severity


@dataclass(frozen=True)
class CheckerEntry:
    """One registered checker; its place among the entries is its place in summary.json's
    `checks` and in the report's invariants table."""

    name: str
    check: Checker
    severity: Severity = "error"
    description: str = ""  # one line: what the invariant proves (the report shows it)
    # True: it judges every explore example with the others. False: it judges the whole run
    # (enough-work, whose minimums make sense only for the sum of all examples).
    per_example: bool = True
    # Where a user's checker came from (`--checker module:function`, an entry point); "" built-in.
    source: str = ""
    # The `module:function` an option named it by, so the printed command repeats the run.
    option: str = ""
    # Combines its results over partitions of a run too large to judge whole
    # (harness.checkers.merge); None: it judges the whole evidence, held in memory.
    merge: Merge | None = None


# Adding a built-in checker is its module plus one line here.
BUILTIN: tuple[CheckerEntry, ...] = (
    CheckerEntry(
        no_duplicate_charge.NAME, no_duplicate_charge.check_no_duplicate_charge, "error",
        "at most one successful charge per payment in the provider's ledger, replays not counted",
        merge=no_duplicate_charge.merge_no_duplicate_charge,
    ),
    CheckerEntry(
        charge_bounds.NAME, charge_bounds.check_charge_bounds, "error",
        "a payment whose client saw ok has exactly one charge; one that saw only fail has none",
        merge=charge_bounds.merge_charge_bounds,
    ),
    CheckerEntry(
        db_consistency.NAME, db_consistency.check_db_consistency, "error",
        "completed ⇔ exactly one charge with that charge_id and amount; no money taken for an "
        "order not completed",
        merge=db_consistency.merge_db_consistency,
    ),
    CheckerEntry(
        target_contract.NAME, target_contract.check_target_contract, "error",
        "completed payments carry a charge_id, statuses only move forward, every charge names "
        "its payment",
        merge=target_contract.merge_target_contract,
    ),
    CheckerEntry(
        retry_key_stability.NAME, retry_key_stability.check_retry_key_stability, "warning",
        "retries for one payment reach the provider under one idempotency key",
        merge=retry_key_stability.merge_retry_key_stability,
    ),
    CheckerEntry(
        enough_work.NAME, enough_work.check_enough_work, "error",
        "a run that did too little to judge is inconclusive (exit 4), never a pass",
        per_example=False,
        merge=enough_work.merge_enough_work,
    ),
)

Suite = dict[str, tuple[Checker, Severity]]


def suite_of(entries: Iterable[CheckerEntry]) -> Suite:
    """name → (checker, severity) in registry order: what `run_all` runs."""
    return {entry.name: (entry.check, entry.severity) for entry in entries}


def merges_of(entries: Iterable[CheckerEntry]) -> dict[str, Merge | None]:
    """name → how its partitions' results merge (None: it must see the whole evidence)."""
    return {entry.name: entry.merge for entry in entries}


def per_example(extra: Iterable[CheckerEntry] = ()) -> Suite:
    """What judges each explore example: the built-in safety checkers, then the user's own."""
    return suite_of(e for e in (*BUILTIN, *extra) if e.per_example)


def position(name: str) -> int:
    """A built-in checker's place in the order; any other name comes after all of them."""
    names = [entry.name for entry in BUILTIN]
    return names.index(name) if name in names else len(names)


def description(name: str) -> str:
    """A built-in checker's one-line description; "" for any other name."""
    return next((entry.description for entry in BUILTIN if entry.name == name), "")


__all__ = [
    "BUILTIN", "CheckerEntry", "Suite", "description", "merges_of", "per_example", "position",
    "suite_of",
]
