"""A project's own checkers, written as docs/CONTRACTS.md says: one function of the evidence."""

from __future__ import annotations

from harness.checkers import CheckResult, Evidence, Violation

CAP_CENTS = 1_000_000  # 10,000.00 in cents


def _capped(evidence: Evidence, name: str, cap: int) -> CheckResult:
    over = [c for c in evidence.charges if int(c.get("amount") or 0) > cap]
    stats = {"charges": len(evidence.charges), "over_cap": len(over), "cap": cap}
    if not over:
        return CheckResult(name, "valid", "error", f"all {len(evidence.charges)} charges are "
                           f"at most {cap} cents", [], stats)
    violations = [
        Violation(name, c.get("payment_id"), f"charge {c.get('id')} took {c.get('amount')} "
                  f"cents, more than the cap of {cap}", ledger=[c], kind="over-cap")
        for c in over
    ]
    return CheckResult(name, "invalid", "error", f"{len(over)} of {len(evidence.charges)} "
                       f"charges took more than {cap} cents", violations, stats)


def check_charge_cap(evidence: Evidence) -> CheckResult:
    """No single charge takes more than 10,000.00: the shop sells nothing dearer."""
    return _capped(evidence, "charge-cap", CAP_CENTS)


def check_penny_cap(evidence: Evidence) -> CheckResult:
    """No charge takes more than one cent: every real charge breaks it (a test's violation)."""
    return _capped(evidence, "penny-cap", 1)
