"""charge-bounds: per payment, the charges the ledger holds must fit what the client was told."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from harness.checkers._describe import (
    error_kind,
    first_worst_last,
    payment_violation,
    plural,
    time_order,
)
from harness.checkers.evidence import Evidence
from harness.checkers.merge import merged_violations, summed
from harness.checkers.result import CheckResult, Violation
from harness.history import Op

NAME = "charge-bounds"


class Bound(NamedTuple):
    """What a payment's client outcomes allow: low..high charges, and why."""

    low: int
    high: int
    why: str
    deciding: list[Op]
    label: str  # ok, info, fail or never_asked


def _outcomes(ops: Iterable[Op]) -> str:
    """`ok at op 5, info at op 3 (timeout)`: the completions that set the bound."""
    return ", ".join(
        f"{op.type} at op {op.index}" + (f" ({error_kind(op)})" if op.type != "ok" else "")
        for op in ops
    )


LIMITS = {"ok": (1, 1), "info": (0, 1), "fail": (0, 0), "never_asked": (0, 0)}


def _label(evidence: Evidence, payment_id: str,
           operations: Sequence[tuple[Op, Op | None]]) -> str | None:
    """Which bound applies: ok, info, fail or never_asked; None when the history never saw it.

    Jepsen's counter checker per payment: ok → exactly 1; only fail → 0; any info → 0..1.
    An invoke that never completed is info; an orphan completion still counts by its type.
    `operations`: the payment's paired charges (its `charge_ops_by_payment` entry, or none).
    Kept allocation-free because it runs for every payment of a million-op history.
    """
    seen_info = seen_fail = False
    for _, done in operations:
        outcome = "info" if done is None else done.type
        if outcome == "ok":
            return "ok"
        if outcome == "fail":
            seen_fail = True
        else:
            seen_info = True
    for orphan in evidence.orphans_by_payment.get(payment_id, ()):
        if orphan.type == "ok":
            return "ok"
        if orphan.type == "fail":
            seen_fail = True
        else:
            seen_info = True
    if seen_info:
        return "info"
    if seen_fail:
        return "fail"
    return "never_asked" if payment_id in evidence.history_payments else None


def _bound(evidence: Evidence, payment_id: str, label: str) -> Bound:
    """The bound with its reason and the ops that decide it: built only for a violation."""
    oks: list[Op] = []
    infos: list[Op] = []
    fails: list[Op] = []
    for operation in evidence.charge_ops_by_payment.get(payment_id, []):
        done = operation.completion or operation.invoke
        {"ok": oks, "info": infos, "fail": fails}[operation.type].append(done)
    for orphan in evidence.orphans_by_payment.get(payment_id, []):
        {"ok": oks, "info": infos, "fail": fails}.get(orphan.type, infos).append(orphan)
    low, high = LIMITS[label]
    if label == "ok":
        why = f"the client saw ok ({_outcomes(oks[:3])}), which allows exactly 1"
        return Bound(low, high, why, oks, label)
    if label == "info":
        opens = [op for op in infos if op.type == "invoke"]
        seen = [op for op in infos if op.type != "invoke"]
        parts = ([_outcomes(seen[:3])] if seen else []) + [
            f"op {op.index} never completed" for op in opens[:3]
        ]
        why = f"its outcomes are unknown ({', '.join(parts)}), which allows at most 1"
        return Bound(low, high, why, infos, label)
    if label == "fail":
        why = f"every charge request failed ({_outcomes(fails[:3])}), which allows none"
        return Bound(low, high, why, fails, label)
    return Bound(low, high, "the client never asked to charge it, which allows none", [], label)


_KINDS = {
    "ok": "too-many-charges",
    "info": "too-many-charges",
    "fail": "charge-after-fail",
    "never_asked": "charge-without-request",
}


def _violation(evidence: Evidence, payment_id: str, charges: int, bound: Bound) -> Violation:
    entries = evidence.charges_by_payment.get(payment_id, [])
    low, high, why, deciding, label = bound
    listed = ", ".join(str(e.get("id")) for e in entries)
    if charges == 0:
        because = f"payment {payment_id} has no charge in the ledger but {why}"
        kind = "ok-without-charge"
    elif charges == 1:
        because = f"payment {payment_id} was charged once ({listed}) but {why}"
        kind = _KINDS[label]
    else:
        because = f"payment {payment_id} was charged {charges} times ({listed}) but {why}"
        kind = _KINDS[label]
    return payment_violation(
        evidence,
        NAME,
        payment_id,
        because,
        ledger=entries,
        kind=kind,
        details={
            "charges": charges,
            "allowed": [low, high],
            "deciding_ops": [op.index for op in deciding],
            "excess": charges - high if charges > high else low - charges,
        },
    )


def check_charge_bounds(evidence: Evidence) -> CheckResult:
    """Invalid when a payment's charge count falls outside what its client outcomes allow."""
    counts = {"ok": 0, "info": 0, "fail": 0, "never_asked": 0, "outside_history": 0}
    violations: list[Violation] = []
    charges_by_payment = evidence.charges_by_payment
    # Every payment with its paired charges, in the history's order, then the ledger's: not
    # a set's order. Taken in the order they were made, a payment's ops, charges and index
    # entries are near the last one's in memory; in hash order each look-up missed the
    # cache, and this loop took 3.3x as long at a million ops.
    payments: dict[str, Sequence[tuple[Op, Op | None]]] = dict(evidence.charge_ops_by_payment)
    for payment_id in charges_by_payment:
        payments.setdefault(payment_id, ())
    for payment_id in evidence.orphans_by_payment:
        payments.setdefault(payment_id, ())
    for payment_id, paired in payments.items():
        label = _label(evidence, payment_id, paired)
        if label is None:
            # Charged, yet the history never mentions it: another run's payment, not ours to bound.
            counts["outside_history"] += 1
            continue
        counts[label] += 1
        charges = len(charges_by_payment.get(payment_id, ()))
        low, high = LIMITS[label]
        if not low <= charges <= high:
            bound = _bound(evidence, payment_id, label)
            violations.append(_violation(evidence, payment_id, charges, bound))
    violations.sort(key=time_order)
    counts = {"payments": len(payments) - counts["outside_history"], **counts,
              "violations": len(violations)}
    return _conclude(counts, violations)


COUNTS = ("payments", "ok", "info", "fail", "never_asked", "outside_history", "violations")


def merge_charge_bounds(parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result from its partitions' (payments never span two)."""
    return _conclude(summed(parts, COUNTS), merged_violations(parts))


def _conclude(counts: dict[str, int], violations: list[Violation]) -> CheckResult:
    checked = counts["payments"]
    stats = {
        **{key: counts[key] for key in COUNTS},
        **first_worst_last(violations, lambda v: float(v.details["excess"])),
    }
    if violations:
        summary = (
            f"{plural(len(violations), 'payment')} of {checked} charged outside the bounds "
            f"their client outcomes allow; first {violations[0].payment_id}"
        )
        return CheckResult(NAME, "invalid", "error", summary, violations, stats)
    summary = (
        f"{plural(checked, 'payment')} within bounds ({counts['ok']} ok → exactly 1, "
        f"{counts['info']} info → at most 1, {counts['fail']} fail → none)"
    )
    return CheckResult(NAME, "valid", "error", summary, [], stats)


__all__ = ["NAME", "check_charge_bounds", "merge_charge_bounds"]
