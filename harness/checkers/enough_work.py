"""enough-work: a run that executed too few charges to say anything is inconclusive, not a pass."""

from __future__ import annotations

from collections.abc import Sequence

from harness.checkers._describe import plural
from harness.checkers.evidence import Evidence
from harness.checkers.merge import summed
from harness.checkers.result import CheckResult
from harness.errors import UsageError

NAME = "enough-work"

# One charge execution and one definite answer are the least from which a check can learn
# anything; CI gates and load runs should ask for more with min_charges / min_completed.
DEFAULT_MIN_CHARGES = 1
DEFAULT_MIN_COMPLETED = 1


def validate_minimums(min_charges: object, min_completed: object) -> None:
    """Raise UsageError naming the argument unless both minimums are integers >= 0."""
    for name, value in (("min_charges", min_charges), ("min_completed", min_completed)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UsageError(f"Expected {name} to be an integer >= 0, got {name}={value!r}")


def check_enough_work(
    evidence: Evidence,
    *,
    min_charges: int = DEFAULT_MIN_CHARGES,
    min_completed: int = DEFAULT_MIN_COMPLETED,
) -> CheckResult:
    """Unknown when fewer than `min_charges` charge executions (charges + declines) happened,
    or fewer than `min_completed` client operations got a definite answer (ok or fail)."""
    validate_minimums(min_charges, min_completed)
    charges = len(evidence.charges)
    declines = sum(
        1 for _, e in evidence.charge_requests if e.get("status") == 402 and not e.get("replayed")
    )
    by_type = {"ok": 0, "fail": 0, "info": 0, "open": 0}
    for _, done in evidence.pairing.operations:
        by_type["open" if done is None else done.type] += 1
    counts = {
        "charges": charges,
        "declines": declines,
        "executions": charges + declines,
        "payments": len(evidence.history_payments.union(evidence.charges_by_payment)),
        "operations": len(evidence.pairing.operations),
        "completed": by_type["ok"] + by_type["fail"],
        **by_type,
    }
    return _conclude(counts, min_charges, min_completed)


COUNTS = ("charges", "declines", "executions", "payments", "operations", "completed",
          "ok", "fail", "info", "open")


def merge_enough_work(parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result from its partitions': every count is a sum over payments."""
    stats = parts[0].stats
    return _conclude(summed(parts, COUNTS), int(stats["min_charges"]),
                     int(stats["min_completed"]))


def _conclude(counts: dict[str, int], min_charges: int, min_completed: int) -> CheckResult:
    charges, declines = counts["charges"], counts["declines"]
    executions, completed, payments = counts["executions"], counts["completed"], counts["payments"]
    stats = {**counts, "min_charges": min_charges, "min_completed": min_completed}
    work = (
        f"executed {plural(executions, 'charge')} ({charges} succeeded, {declines} declined) "
        f"for {plural(payments, 'payment')}; "
        f"{plural(counts['operations'], 'client operation')} "
        f"({counts['ok']} ok, {counts['fail']} fail, {counts['info']} info, "
        f"{counts['open']} never completed)"
    )
    short = []
    if executions < min_charges:
        short.append(f"only {plural(executions, 'charge execution')}, need at least {min_charges}")
    if completed < min_completed:
        short.append(
            f"only {plural(completed, 'definite answer')} (ok or fail), need at least "
            f"{min_completed}"
        )
    if short:
        summary = f"inconclusive: {'; '.join(short)}: the run {work}"
        return CheckResult(NAME, "unknown", "error", summary, [], stats)
    return CheckResult(NAME, "valid", "error", f"the run {work}", [], stats)


__all__ = [
    "DEFAULT_MIN_CHARGES",
    "DEFAULT_MIN_COMPLETED",
    "NAME",
    "check_enough_work",
    "merge_enough_work",
    "validate_minimums",
]
