"""Judging one example: the checkers over its evidence, and violations Hypothesis can shrink."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from harness.checkers import CheckResult, Evidence
from harness.checkers._describe import plural
from harness.checkers.enough_work import check_enough_work
from harness.checkers.no_duplicate_charge import check_no_duplicate_charge
from harness.checkers.registry import CheckerEntry, per_example
from harness.checkers.suite import run_all

if TYPE_CHECKING:
    from harness.model.environment import Example

# Which violation a failing example is reported under when several checkers object. The
# ledger's count of charges comes first; then the target's contract, because when the
# target misreports its own state the checkers that trust those reports object too.
PRIORITY = ("no-duplicate-charge", "target-contract", "charge-bounds", "db-consistency")


class PaymentViolation(AssertionError):
    """An example broke an invariant; `result` is the headline, `results` every checker's."""

    checker = "violation"

    def __init__(self, result: CheckResult, results: Sequence[CheckResult]) -> None:
        first = result.violations[0].because if result.violations else result.summary
        super().__init__(f"{result.checker}: {first}")
        self.result = result
        self.results = list(results)
        self.example: Example | None = None  # the example that raised it, for its evidence


@functools.cache  # the same class every time: Hypothesis tells bugs apart by their type
def violation_type(checker: str) -> type[PaymentViolation]:
    """One exception class per checker, so Hypothesis shrinks each kind of bug on its own."""
    name = "".join(part.title() for part in checker.split("-")) + "Violation"
    return type(name, (PaymentViolation,), {"checker": checker})


def evidence_of(example: Example, *, reconciled: bool) -> Evidence:
    return Evidence(
        history=example.recorder.ops(),
        ledger=list(example.ledger),
        db=example.db,
        reconciled=reconciled,
        settled_how=example.settled.describe() if example.settled is not None else None,
    )


def headline(results: Sequence[CheckResult]) -> CheckResult | None:
    """The invalid error-severity result to report, by PRIORITY; None when all hold."""
    invalid = [r for r in results if r.validity == "invalid" and r.severity == "error"]
    if not invalid:
        return None
    rank = {name: i for i, name in enumerate(PRIORITY)}
    return min(invalid, key=lambda r: rank.get(r.checker, len(rank)))


def check_duplicates(example: Example) -> PaymentViolation | None:
    """The per-step invariant: no payment has two charges in the ledger so far."""
    if not any(n > 1 for n in example.charges_per_payment.values()):
        return None
    result = check_no_duplicate_charge(evidence_of(example, reconciled=False))
    if result.validity != "invalid":
        return None
    return violation_type(result.checker)(result, [result])


def check_example(
    example: Example, extra: Iterable[CheckerEntry] = ()
) -> tuple[list[CheckResult], PaymentViolation | None]:
    """Every safety checker and the user's own (`extra`) over a quiesced, reconciled example,
    plus its enough-work stats."""
    evidence = evidence_of(example, reconciled=True)
    results = run_all(evidence, checkers=per_example(extra))
    results.append(check_enough_work(evidence))
    worst = headline(results)
    if worst is None:
        return results, None
    return results, violation_type(worst.checker)(worst, results)


class CheckTally:
    """Results of every checked example folded into one result per checker, for summary.json."""

    def __init__(self) -> None:
        self.examples = 0
        self.by_checker: dict[str, dict[str, Any]] = {}

    def add(self, results: Sequence[CheckResult]) -> None:
        self.examples += 1
        for result in results:
            entry = self.by_checker.setdefault(
                result.checker,
                {"severity": result.severity, "counts": {}, "first": {}, "stats": {}},
            )
            counts = entry["counts"]
            counts[result.validity] = counts.get(result.validity, 0) + 1
            entry["first"].setdefault(result.validity, result)
            for key, value in result.stats.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    entry["stats"][key] = entry["stats"].get(key, 0) + value

    def results(self) -> list[CheckResult]:
        """One CheckResult per checker: invalid if any example was, else valid over all."""
        out: list[CheckResult] = []
        for name, entry in self.by_checker.items():
            if name == "enough-work":
                continue
            counts: dict[str, int] = entry["counts"]
            stats = {"examples": sum(counts.values()), **counts, **entry["stats"]}
            if counts.get("invalid"):
                first: CheckResult = entry["first"]["invalid"]
                summary = (
                    f"invalid in {counts['invalid']} of {stats['examples']} examples; "
                    f"first: {first.summary}"
                )
                out.append(
                    CheckResult(name, "invalid", first.severity, summary, first.violations, stats)
                )
            elif counts.get("unknown") and not counts.get("valid"):
                first = entry["first"]["unknown"]
                out.append(CheckResult(name, "unknown", first.severity, first.summary, [], stats))
            else:
                summary = f"held in all {plural(counts.get('valid', 0), 'example')} it judged"
                if counts.get("unknown"):
                    # Valid where it could judge: say how many it could not, never hide them.
                    summary += f" ({counts['unknown']} it could not judge)"
                out.append(CheckResult(name, "valid", entry["severity"], summary, [], stats))
        return out

    def enough_work(self, min_charges: int = 1, min_completed: int = 1) -> CheckResult:
        """enough-work over the whole run: charge executions and definite answers, summed."""
        stats = dict(self.by_checker.get("enough-work", {}).get("stats", {}))
        executions = int(stats.get("executions", 0))
        completed = int(stats.get("completed", 0))
        stats.update(examples=self.examples, min_charges=min_charges, min_completed=min_completed)
        work = (
            f"{self.examples} examples executed {executions} charges "
            f"({stats.get('charges', 0)} succeeded, {stats.get('declines', 0)} declined), "
            f"{completed} client operations got a definite answer"
        )
        if executions < min_charges or completed < min_completed:
            return CheckResult(
                "enough-work", "unknown", "error", f"inconclusive: only {work}", [], stats
            )
        return CheckResult("enough-work", "valid", "error", work, [], stats)
