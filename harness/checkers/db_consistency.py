"""db-consistency: completed ⇔ exactly one matching charge; no charge whose order was lost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checkers._describe import (
    first_worst_last,
    fmt_t,
    make_violation,
    plural,
    time_order,
)
from harness.checkers.evidence import DbRow, Evidence, LedgerEntry
from harness.checkers.merge import merged_violations, summed
from harness.checkers.result import CheckResult, Violation

NAME = "db-consistency"


def _listed(evidence: Evidence, charges: list[LedgerEntry]) -> str:
    return ", ".join(f"{e.get('id')} at {fmt_t(evidence.at(e))}" for e in charges)


def _charges_for(evidence: Evidence, row: DbRow) -> list[LedgerEntry]:
    """The payment's charges, plus the one its charge_id names even if it lacks payment_id."""
    pid = row.get("id")
    charges = list(evidence.charges_by_payment.get(pid, [])) if isinstance(pid, str) else []
    linked = evidence.charge_by_id.get(row.get("charge_id"))
    unattributed = linked is not None and linked.get("payment_id") is None
    if linked is not None and unattributed and all(e is not linked for e in charges):
        charges.append(linked)
    return charges


def _completed_problems(
    evidence: Evidence, row: DbRow, charges: list[LedgerEntry]
) -> list[tuple[str, str]]:
    """(kind, because) for each way a completed row disagrees with the ledger."""
    pid, charge_id = row.get("id"), row.get("charge_id")
    problems: list[tuple[str, str]] = []
    linked = evidence.charge_by_id.get(charge_id) if charge_id is not None else None
    listed = f" ({_listed(evidence, charges)})" if charges else ""
    held = f"{plural(len(charges), 'charge')} for it{listed}"
    if charge_id is None:
        because = f"payment {pid} is completed but records no charge_id; the ledger holds {held}"
        problems.append(("completed-without-charge-id", because))
    elif linked is None:
        because = (
            f"payment {pid} is completed with charge_id {charge_id}, but the ledger holds no "
            f"charge {charge_id}"
        )
        if charges:
            because += f"; it holds {held}"
        else:
            because += ": the order says paid, no money was taken"
        problems.append(("completed-without-charge", because))
    elif linked.get("payment_id") not in (None, pid):
        because = (
            f"payment {pid} is completed with charge_id {charge_id}, but that charge was made "
            f"for payment {linked.get('payment_id')}"
        )
        problems.append(("charge-of-another-payment", because))
    elif (linked.get("amount"), linked.get("currency")) != (row.get("amount"), row.get("currency")):
        because = (
            f"payment {pid} is completed for {row.get('amount')} {row.get('currency')} but its "
            f"charge {charge_id} took {linked.get('amount')} {linked.get('currency')}"
        )
        problems.append(("amount-mismatch", because))
    extra = [e for e in charges if e is not linked]
    if linked is not None and extra:
        unrecorded = ", ".join(str(e.get("id")) for e in extra)
        because = (
            f"payment {pid} is completed with {charge_id} but the ledger holds {held}: "
            f"{unrecorded} is money taken that no order records"
        )
        problems.append(("completed-with-extra-charges", because))
    return problems


def _violation(
    evidence: Evidence,
    pid: Any,
    kind: str,
    because: str,
    charges: list[LedgerEntry],
    rows: list[DbRow],
) -> Violation:
    payment_id = pid if isinstance(pid, str) else None
    return make_violation(
        evidence,
        NAME,
        payment_id,
        because,
        ops=evidence.ops_by_payment.get(payment_id, []) if payment_id else [],
        ledger=charges,
        db=rows,
        kind=kind,
        details={
            "charges": len(charges),
            "amount_at_stake": sum(int(e.get("amount") or 0) for e in charges),
        },
    )


def check_db_consistency(evidence: Evidence) -> CheckResult:
    """Invalid when the DB and the ledger disagree about who paid; unknown without a snapshot."""
    if evidence.db is None:
        return CheckResult(
            NAME,
            "unknown",
            "error",
            "no database snapshot was collected, so orders cannot be matched to charges",
            [],
            {"rows": 0},
        )
    violations: list[Violation] = []
    pending: list[str] = []
    completed = 0
    by_payment, by_id = evidence.charges_by_payment, evidence.charge_by_id
    for row in evidence.db:
        pid, status = row.get("id"), row.get("status")
        if status == "completed":
            completed += 1
            # Fast path, the common case: exactly one charge, the one the row names, same money.
            own = by_payment.get(pid, ()) if isinstance(pid, str) else ()
            if len(own) == 1 and by_id.get(row.get("charge_id")) is own[0]:
                charge = own[0]
                if (charge.get("amount"), charge.get("currency")) == (
                    row.get("amount"),
                    row.get("currency"),
                ):
                    continue
        charges = _charges_for(evidence, row)
        if status == "completed":
            linked = evidence.charge_by_id.get(row.get("charge_id"))
            shown = charges if linked is None or linked in charges else [*charges, linked]
            for kind, because in _completed_problems(evidence, row, charges):
                violations.append(_violation(evidence, pid, kind, because, shown, [row]))
        elif charges:
            if not evidence.reconciled:
                pending.append(str(pid))
                continue
            if status in ("pending", "processing"):
                state = f"is still {status} after {evidence.settled_how or 'reconciliation'}"
            else:
                state = f"the service recorded it {status}"
            because = (
                f"payment {pid} was charged ({_listed(evidence, charges)}) but {state}: "
                "money taken, order lost"
            )
            violations.append(
                _violation(evidence, pid, "money-taken-order-lost", because, charges, [row])
            )
    rows = evidence.db_by_id
    for pid, charges in evidence.charges_by_payment.items():
        if pid not in rows:
            because = (
                f"the ledger charged payment {pid} ({_listed(evidence, charges)}) but the "
                f"database has no such payment: money taken, order lost"
            )
            violations.append(
                _violation(evidence, pid, "money-taken-no-order", because, charges, [])
            )
    violations.sort(key=time_order)
    counts = {"rows": len(evidence.db), "completed": completed,
              "charged_not_completed": len(pending), "violations": len(violations)}
    return _conclude(counts, evidence.reconciled, sorted(pending)[:PENDING_SHOWN], violations)


COUNTS = ("rows", "completed", "charged_not_completed", "violations")
# Payments charged but not completed that the stats name: the first by id, so the list does
# not depend on the order of the snapshot (or of the partitions a large run is judged in).
PENDING_SHOWN = 50


def merge_db_consistency(parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result from its partitions' (a payment, its row and its charges never
    span two)."""
    if "completed" not in parts[0].stats:  # no snapshot: every partition says so alike
        return parts[0]
    pending = sorted(p for part in parts for p in part.stats.get("pending_payments", ()))
    return _conclude(summed(parts, COUNTS), bool(parts[0].stats["reconciled"]),
                     pending[:PENDING_SHOWN], merged_violations(parts))


def _conclude(counts: dict[str, int], reconciled: bool, pending: list[str],
              violations: list[Violation]) -> CheckResult:
    stats: dict[str, Any] = {
        **{key: counts[key] for key in COUNTS},
        "reconciled": reconciled,
        **first_worst_last(violations, lambda v: float(v.details["amount_at_stake"])),
    }
    if violations:
        summary = (
            f"{plural(len(violations), 'disagreement')} between the database and the "
            f"ledger; first: {violations[0].because}"
        )
        return CheckResult(NAME, "invalid", "error", summary, violations, stats)
    if pending:
        stats["pending_payments"] = pending
        summary = (
            f"{plural(counts['charged_not_completed'], 'payment')} charged but not completed, "
            f"and the target was not reconciled, so they may still complete (first {pending[0]})"
        )
        return CheckResult(NAME, "unknown", "error", summary, [], stats)
    summary = (
        f"{plural(counts['rows'], 'payment')} in the snapshot: {counts['completed']} completed, "
        f"each with exactly one matching charge; no charge without a completed order"
    )
    return CheckResult(NAME, "valid", "error", summary, [], stats)


__all__ = ["NAME", "check_db_consistency", "merge_db_consistency"]
