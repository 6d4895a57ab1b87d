"""compose, check_safe, run_all, verdicts, JSON round trips and loading evidence from a run dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checkers import (
    SAFETY_CHECKERS,
    CheckResult,
    Evidence,
    Violation,
    check_safe,
    compose,
    load_evidence,
    run_all,
    verdict,
)
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, row, timeout
from harness.errors import UsageError
from harness.history import HistoryRecorder


def _r(validity: str, severity: str = "error") -> CheckResult:
    return CheckResult("c", validity, severity)  # type: ignore[arg-type]


def test_compose_worst_wins_and_warnings_never_decide() -> None:
    """invalid beats unknown beats valid; a warning's invalid or unknown changes nothing."""
    assert compose([_r("valid"), _r("valid")]) == "valid"
    assert compose([_r("valid"), _r("unknown")]) == "unknown"
    assert compose([_r("unknown"), _r("invalid"), _r("valid")]) == "invalid"
    assert compose([_r("valid"), _r("invalid", "warning")]) == "valid"
    assert compose([_r("valid"), _r("unknown", "warning")]) == "valid"
    assert compose([_r("unknown"), _r("invalid", "warning")]) == "unknown"


def test_compose_of_nothing_is_unknown() -> None:
    """Checking nothing proves nothing: no error-severity result → unknown."""
    assert compose([]) == "unknown"
    assert compose([_r("valid", "warning")]) == "unknown"


def test_verdicts_map_to_the_documented_exit_codes() -> None:
    """valid → verified 0, invalid → violation 1, unknown → inconclusive 4."""
    assert verdict("valid") == ("verified", 0)
    assert verdict("invalid") == ("violation", 1)
    assert verdict("unknown") == ("inconclusive", 4)


def test_check_safe_turns_a_raising_checker_into_unknown() -> None:
    """The exception becomes the summary; the run goes on."""

    def check_exploding(evidence: Evidence) -> CheckResult:
        raise KeyError("status")

    result = check_safe(check_exploding)(Evidence([], []))
    assert result.checker == "exploding"
    assert (result.validity, result.severity) == ("unknown", "error")
    assert result.summary == "checker exploding raised KeyError: 'status'"
    assert result.stats["exception"] == "KeyError"
    assert "raise KeyError" in result.stats["traceback"]
    json.dumps(result.to_dict())


def test_check_safe_passes_results_through_and_catches_nonsense() -> None:
    """A good result is untouched; returning something else is unknown too."""
    good = CheckResult("x", "valid")
    assert check_safe(lambda e: good, "x")(Evidence([], [])) is good
    odd = check_safe(lambda e: "fine", "odd", "warning")(Evidence([], []))  # type: ignore[arg-type,return-value]
    assert (odd.checker, odd.validity, odd.severity) == ("odd", "unknown", "warning")
    assert odd.summary == "checker odd returned str, not a CheckResult"


def test_check_result_rejects_an_unknown_validity() -> None:
    """Only the three states exist."""
    with pytest.raises(ValueError, match="validity='maybe'"):
        CheckResult("c", "maybe")  # type: ignore[arg-type]


def _pr145_run() -> Evidence:
    """A lost response and a keyless retry: charged twice, DB reconciled to completed."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.invoke("w0", "charge", "pay_1", 0.1)
    ledger.charged(0.2, "pay_1", "ch_a", fault="hang_after")
    h.complete("w0", "info", 1.1, error=timeout())
    h.charge_ok("w0", "pay_1", 1.2, "ch_b")
    ledger.charged(1.25, "pay_1", "ch_b")
    return Evidence(h.ops, ledger.entries, [row("pay_1", "completed", "ch_b")], reconciled=True)


def test_run_all_runs_every_checker_in_order_and_composes_to_invalid() -> None:
    """The full suite over PR #145's double charge: each checker's validity, exactly."""
    results = run_all(_pr145_run())
    assert [(r.checker, r.validity, r.severity) for r in results] == [
        ("no-duplicate-charge", "invalid", "error"),
        ("charge-bounds", "invalid", "error"),
        ("db-consistency", "invalid", "error"),
        ("target-contract", "valid", "error"),
        ("retry-key-stability", "invalid", "warning"),
        ("enough-work", "valid", "error"),
    ]
    assert compose(results) == "invalid"
    summary = json.loads(json.dumps([r.to_dict() for r in results]))
    assert [CheckResult.from_dict(d) for d in summary] == results


def test_run_all_min_charges_makes_a_clean_small_run_inconclusive() -> None:
    """A correct run with one charge is verified by default and inconclusive at min_charges=5."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.charge_ok("w0", "pay_1", 0.1, "ch_1", key="payrace-charge-pay_1")
    ledger.charged(0.15, "pay_1", "ch_1", key="payrace-charge-pay_1")
    evidence = Evidence(h.ops, ledger.entries, [row("pay_1", "completed", "ch_1")], True)
    assert compose(run_all(evidence)) == "valid"
    assert compose(run_all(evidence, min_charges=5)) == "unknown"
    with pytest.raises(UsageError, match="min_completed=-2"):
        run_all(evidence, min_completed=-2)


def test_run_all_survives_a_crashing_checker() -> None:
    """A checker that raises is unknown in the list; the others still judge the evidence."""

    def check_broken(evidence: Evidence) -> CheckResult:
        raise RuntimeError("disk on fire")

    suite = {**SAFETY_CHECKERS, "broken": (check_broken, "error")}
    results = run_all(_pr145_run(), checkers=suite)
    assert results[-1].validity == "unknown"
    assert results[-1].summary == "checker broken raised RuntimeError: disk on fire"
    assert results[0].validity == "invalid"
    assert compose(results) == "invalid"


def test_malformed_evidence_yields_unknown_not_a_crash() -> None:
    """A ledger of strings makes each checker raise inside check_safe: all unknown."""
    results = run_all(Evidence([], ["garbage"], []))  # type: ignore[list-item]
    assert {r.validity for r in results} == {"unknown"}
    assert all("raised AttributeError" in r.summary for r in results)


def test_violation_round_trips_through_json() -> None:
    """to_dict → JSON → from_dict gives the same violation."""
    v = Violation(
        "no-duplicate-charge",
        "pay_1",
        "because",
        [{"index": 0}],
        [{"seq": 1}],
        0.1,
        0.2,
        "duplicate-charge",
        {"charges": 2},
        [{"id": "pay_1"}],
    )
    assert Violation.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def test_load_evidence_reads_a_run_directory(tmp_path: Path) -> None:
    """history.jsonl (torn last line tolerated), ledger.jsonl and db.json load into Evidence."""
    with HistoryRecorder(tmp_path / "history.jsonl") as rec:
        inv = rec.invoke("w0", "charge", payment_id="pay_1")
        rec.complete(inv, "ok", value={"status": "completed", "charge_id": "ch_1"})
    ledger = LedgerBuilder()
    ledger.charged(0.1, "pay_1", "ch_1")
    lines = "".join(json.dumps(e) + "\n" for e in ledger.entries) + '{"seq": 3, "ki'
    (tmp_path / "ledger.jsonl").write_text(lines)
    (tmp_path / "db.json").write_text(json.dumps({"payments": [row("pay_1", "completed", "ch_1")]}))
    evidence = load_evidence(tmp_path)
    assert [op.index for op in evidence.history] == [0, 1]
    assert [e["seq"] for e in evidence.ledger] == [1, 2]
    assert evidence.db == [row("pay_1", "completed", "ch_1")]
    assert evidence.reconciled is True
    assert compose(run_all(evidence)) == "valid"


def test_load_evidence_refuses_a_directory_without_a_run(tmp_path: Path) -> None:
    """One clear line naming the missing file."""
    with pytest.raises(UsageError, match=r"is not a run directory: history\.jsonl is missing"):
        load_evidence(tmp_path)
    (tmp_path / "history.jsonl").write_text("")
    (tmp_path / "ledger.jsonl").write_text("")
    (tmp_path / "db.json").write_text('"rows"')
    with pytest.raises(UsageError, match="must hold a list of payment rows, got str"):
        load_evidence(tmp_path)
    (tmp_path / "db.json").unlink()
    assert load_evidence(tmp_path).db is None
