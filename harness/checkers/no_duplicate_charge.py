"""no-duplicate-charge: at most one successful charge per payment in the ledger (the core)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.checkers._describe import (
    describe_keys,
    error_kind,
    first_worst_last,
    fmt_t,
    payment_violation,
    plural,
    time_order,
)
from harness.checkers.evidence import Evidence, LedgerEntry
from harness.checkers.merge import merged_violations, summed
from harness.checkers.result import CheckResult, Violation
from harness.history import Operation

NAME = "no-duplicate-charge"


def _who(operation: Operation) -> str:
    return f"{operation.process}, never completed" if operation.is_open else operation.process


def _explain_second(operations: Sequence[Operation], t_second: float | None) -> str:
    """Which client behaviour let the second charge happen: a retry after info, or a race."""
    if t_second is None or not operations:
        return ""
    before = [o for o in operations if o.start <= t_second]
    if not before:
        return "; no client charge request preceded it (the service charged again on its own)"
    infos = [
        o.completion
        for o in before
        if o.completion is not None
        and o.completion.type == "info"
        and o.completion.time <= t_second
    ]
    if infos:
        info = max(infos, key=lambda op: op.time)
        retries = [o for o in before if o.start >= info.time]
        if retries:
            retry = max(retries, key=lambda o: o.start)
            return (
                f"; the second charge followed an `info` outcome at op {info.index} "
                f"({error_kind(info)}) and a retry at op {retry.invoke.index}"
            )
    ordered = sorted(before, key=lambda o: o.start)
    latest = ordered[0]
    for o in ordered[1:]:
        if o.start < latest.end:
            return (
                f"; charge requests at ops {latest.invoke.index} ({_who(latest)}) and "
                f"{o.invoke.index} ({_who(o)}) were in flight at the same time"
            )
        if o.end > latest.end:
            latest = o
    return ""


def _duplicate(evidence: Evidence, payment_id: str, charges: list[LedgerEntry]) -> Violation:
    charges = sorted(charges, key=lambda e: (evidence.at(e) or 0.0, e.get("seq") or 0))
    times = [evidence.at(e) for e in charges]
    listed = ", ".join(f"{e.get('id')} at {fmt_t(t)}" for e, t in zip(charges, times, strict=True))
    keys = [e.get("idempotency_key") for e in charges]
    because = (
        f"payment {payment_id} was charged {len(charges)} times ({listed}) {describe_keys(keys)}"
    )
    because += _explain_second(evidence.charge_ops_by_payment.get(payment_id, []), times[1])
    refunds = [r for e in charges for r in evidence.refunds_by_charge.get(e.get("id"), [])]
    refunded = sum(int(r.get("amount") or 0) for r in refunds)
    if refunds:
        because += (
            f"; refunds of {refunded} ({', '.join(str(r.get('id')) for r in refunds)}) "
            "do not undo the double charge"
        )
    return payment_violation(
        evidence,
        NAME,
        payment_id,
        because,
        ledger=[*charges, *refunds],
        kind="duplicate-charge",
        details={
            "charges": len(charges),
            "charge_ids": [e.get("id") for e in charges],
            "idempotency_keys": keys,
            "request_ids": [e.get("request_id") for e in charges],
            "amount": sum(int(e.get("amount") or 0) for e in charges),
            "refunded": refunded,
        },
    )


COUNTS = ("payments", "charges", "duplicates", "extra_charges", "unattributed_charges")


def check_no_duplicate_charge(evidence: Evidence) -> CheckResult:
    """Invalid when any payment has two or more successful charges; refunds do not excuse it."""
    by_payment = evidence.charges_by_payment
    violations = [
        _duplicate(evidence, pid, charges)
        for pid, charges in by_payment.items()
        if len(charges) > 1
    ]
    violations.sort(key=time_order)
    counts = {
        "payments": len(evidence.history_payments.union(by_payment)),
        "charges": len(evidence.charges),
        "duplicates": len(violations),
        "extra_charges": sum(int(v.details["charges"]) - 1 for v in violations),
        "unattributed_charges": len(evidence.unattributed_charges),
    }
    return _conclude(counts, violations)


def merge_no_duplicate_charge(parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result from its partitions' (payments never span two)."""
    return _conclude(summed(parts, COUNTS), merged_violations(parts))


def _conclude(counts: dict[str, Any], violations: list[Violation]) -> CheckResult:
    payments, charges = counts["payments"], counts["charges"]
    unattributed, extra = counts["unattributed_charges"], counts["extra_charges"]
    stats = {**counts, **first_worst_last(violations, lambda v: float(v.details["charges"]))}
    if violations:
        worst = stats["worst"]["payment_id"]
        summary = (
            f"{plural(len(violations), 'payment')} of {payments} charged more than once "
            f"({plural(extra, 'extra charge')}); worst {worst}"
        )
        return CheckResult(NAME, "invalid", "error", summary, violations, stats)
    if unattributed:
        summary = (
            f"{plural(unattributed, 'charge')} carry no metadata.payment_id, so double "
            f"charges among them cannot be ruled out"
        )
        return CheckResult(NAME, "unknown", "error", summary, [], stats)
    summary = f"{plural(charges, 'charge')} for {plural(payments, 'payment')}, none charged twice"
    return CheckResult(NAME, "valid", "error", summary, [], stats)


__all__ = ["NAME", "check_no_duplicate_charge", "merge_no_duplicate_charge"]
