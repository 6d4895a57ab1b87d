"""Shared wording and evidence packing for checkers: times, keys, violations, first/worst/last."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from harness.checkers.evidence import DbRow, Evidence, LedgerEntry
from harness.checkers.result import Violation
from harness.history import Op

# A violation keeps at most this many ops: a hot payment hit 10,000 times would bloat the report.
MAX_OPS_PER_VIOLATION = 400


def fmt_t(t: float | None) -> str:
    return "t=?" if t is None else f"t={t:.3f}"


def fmt_key(key: Any) -> str:
    return "none" if key is None else str(key)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def distinct_keys(keys: Sequence[Any]) -> int:
    """Distinct idempotency keys, each missing key counting on its own: no key protects nothing."""
    return len({k for k in keys if k is not None}) + sum(1 for k in keys if k is None)


def describe_keys(keys: Sequence[Any]) -> str:
    listed = ", ".join(fmt_key(k) for k in keys)
    n = distinct_keys(keys)
    if n == 1 and len(keys) > 1:
        return f"under the same idempotency key {fmt_key(keys[0])}"
    if n == 1:
        return f"under idempotency key {fmt_key(keys[0])}"
    return f"under {n} different idempotency keys ({listed})"


def error_kind(op: Op) -> str:
    if op.error and op.error.get("kind"):
        kind = str(op.error["kind"])
        status = op.error.get("status")
        return f"{kind} {status}" if status is not None and str(status) not in kind else kind
    return op.type


def make_violation(
    evidence: Evidence,
    checker: str,
    payment_id: str | None,
    because: str,
    *,
    ops: Iterable[Op] = (),
    ledger: Iterable[LedgerEntry] = (),
    db: Iterable[DbRow] = (),
    kind: str = "",
    details: dict[str, Any] | None = None,
) -> Violation:
    """A violation whose first/last times span its ops and ledger entries on one clock."""
    op_list = list(ops)
    ledger_list = [dict(entry) for entry in ledger]
    extra = dict(details or {})
    if len(op_list) > MAX_OPS_PER_VIOLATION:
        extra["operations_omitted"] = len(op_list) - MAX_OPS_PER_VIOLATION
        op_list = op_list[:MAX_OPS_PER_VIOLATION]
    times = [op.time for op in op_list]
    times += [t for t in (evidence.at(e) for e in ledger_list) if t is not None]
    return Violation(
        checker=checker,
        payment_id=payment_id,
        because=because,
        operations=[op.to_dict() for op in op_list],
        ledger=ledger_list,
        first_time=min(times) if times else None,
        last_time=max(times) if times else None,
        kind=kind,
        details=extra,
        db=[dict(row) for row in db],
    )


def payment_violation(
    evidence: Evidence,
    checker: str,
    payment_id: str,
    because: str,
    *,
    ledger: Iterable[LedgerEntry] = (),
    kind: str = "",
    details: dict[str, Any] | None = None,
) -> Violation:
    """A violation about one payment, carrying every op the history holds for it."""
    return make_violation(
        evidence,
        checker,
        payment_id,
        because,
        ops=evidence.ops_by_payment.get(payment_id, []),
        ledger=ledger,
        kind=kind,
        details=details,
    )


def time_order(v: Violation) -> tuple[bool, float, str]:
    """Sort key for violations: earliest first, undated last, payment id breaking ties."""
    return (v.first_time is None, v.first_time or 0.0, v.payment_id or "")


def _brief(v: Violation) -> dict[str, Any]:
    return {
        "payment_id": v.payment_id,
        "kind": v.kind,
        "first_time": v.first_time,
        "last_time": v.last_time,
        "because": v.because,
    }


def first_worst_last(
    violations: Sequence[Violation],
    weight: Callable[[Violation], float],
) -> dict[str, Any]:
    """Jepsen's bank habit: the first, the worst (heaviest; earliest on ties), the last offender."""
    if not violations:
        return {"first": None, "worst": None, "last": None}
    inf = float("inf")
    first = min(violations, key=lambda v: v.first_time if v.first_time is not None else inf)
    last = max(violations, key=lambda v: v.last_time if v.last_time is not None else -inf)
    worst = max(
        violations, key=lambda v: (weight(v), -(v.first_time if v.first_time is not None else inf))
    )
    return {
        "first": _brief(first),
        "worst": {**_brief(worst), "weight": weight(worst)},
        "last": _brief(last),
    }


__all__ = [
    "MAX_OPS_PER_VIOLATION",
    "describe_keys",
    "distinct_keys",
    "error_kind",
    "first_worst_last",
    "fmt_key",
    "fmt_t",
    "make_violation",
    "payment_violation",
    "plural",
    "time_order",
]
