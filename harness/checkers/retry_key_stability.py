"""retry-key-stability (warning): retries for one payment must reach the provider under one key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from harness.checkers._describe import (
    describe_keys,
    distinct_keys,
    first_worst_last,
    fmt_t,
    payment_violation,
    plural,
    time_order,
)
from harness.checkers.evidence import Evidence, LedgerEntry
from harness.checkers.merge import merged_violations, summed
from harness.checkers.result import CheckResult, Violation

NAME = "retry-key-stability"


def _violation(
    evidence: Evidence, payment_id: str, endpoint: str, requests: list[LedgerEntry]
) -> Violation:
    keys = [r.get("idempotency_key") for r in requests]
    listed = ", ".join(f"{r.get('request_id')} at {fmt_t(evidence.at(r))}" for r in requests[:6])
    if len(requests) > 6:
        listed += f", … {len(requests) - 6} more"
    because = (
        f"payment {payment_id} reached POST {endpoint} {len(requests)} times ({listed}) "
        f"{describe_keys(keys)}: had a response been lost, the retry would charge again"
    )
    return payment_violation(
        evidence,
        NAME,
        payment_id,
        because,
        ledger=requests,
        kind="unstable-key",
        details={
            "endpoint": endpoint,
            "requests": len(requests),
            "keys": keys,
            "distinct_keys": distinct_keys(keys),
        },
    )


def check_retry_key_stability(evidence: Evidence) -> CheckResult:
    """Warn when one payment's requests to one money-moving endpoint used more than one key.

    Grouped by endpoint too: a PaymentIntent created under one key and confirmed under
    another is correct, since Stripe scopes a key to one endpoint and one set of parameters.
    A request with no key counts as a key of its own: nothing deduplicates it.
    """
    groups: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    unattributed = 0
    for endpoint, entry in evidence.charge_requests:
        payment_id = entry.get("payment_id")
        if payment_id is None:
            unattributed += 1
            continue
        groups[(payment_id, endpoint)].append(entry)
    violations = [
        _violation(evidence, pid, endpoint, requests)
        for (pid, endpoint), requests in groups.items()
        if len(requests) > 1 and distinct_keys([r.get("idempotency_key") for r in requests]) > 1
    ]
    violations.sort(key=time_order)
    counts = {
        "payments": len({pid for pid, _ in groups}),
        "requests": sum(len(r) for r in groups.values()),
        "retried_groups": sum(1 for requests in groups.values() if len(requests) > 1),
        "unstable": len(violations),
        "unattributed_requests": unattributed,
    }
    return _conclude(counts, violations)


COUNTS = ("payments", "requests", "retried_groups", "unstable", "unattributed_requests")


def merge_retry_key_stability(parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result from its partitions' (a payment's requests never span two)."""
    return _conclude(summed(parts, COUNTS), merged_violations(parts))


def _conclude(counts: dict[str, int], violations: list[Violation]) -> CheckResult:
    payments, retried = counts["payments"], counts["retried_groups"]
    stats = {**counts, **first_worst_last(violations, lambda v: float(v.details["distinct_keys"]))}
    if violations:
        summary = (
            f"{plural(len(violations), 'payment')} retried a charge under more than one "
            f"idempotency key (first {violations[0].payment_id}): unsafe even when no "
            f"duplicate happened this time"
        )
        return CheckResult(NAME, "invalid", "warning", summary, violations, stats)
    summary = (
        f"{plural(retried, 'retried charge')} of {plural(payments, 'payment')} kept "
        f"one idempotency key per endpoint"
    )
    return CheckResult(NAME, "valid", "warning", summary, [], stats)


__all__ = ["NAME", "check_retry_key_stability", "merge_retry_key_stability"]
