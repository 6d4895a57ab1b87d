"""charge-bounds: ok → exactly 1 charge, only fail → none, info → at most 1, on literal evidence."""

from __future__ import annotations

from harness.checkers.charge_bounds import check_charge_bounds
from harness.checkers.evidence import Evidence
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, server_error, timeout
from harness.history import Op

DECLINED = {"kind": "declined", "status": 402, "message": "402 declined"}
CONFLICT = {"kind": "conflict", "status": 409, "message": "409 in progress"}


def test_every_outcome_class_within_its_bound_is_valid() -> None:
    """ok+1, info+0, info+1 and fail+0 all fit; the summary counts each class."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.charge_ok("w0", "pay_ok", 0.0, "ch_ok")
    ledger.charged(0.05, "pay_ok", "ch_ok")
    h.invoke("w1", "charge", "pay_info0", 0.0)
    h.complete("w1", "info", 1.0, error=server_error(503))
    h.invoke("w2", "charge", "pay_info1", 0.0)
    ledger.charged(0.05, "pay_info1", "ch_i1")
    h.complete("w2", "info", 1.0, error=timeout())
    h.invoke("w3", "charge", "pay_fail", 0.0)
    ledger.declined(0.05, "pay_fail")
    h.complete("w3", "fail", 0.1, error=DECLINED)
    result = check_charge_bounds(Evidence(h.ops, ledger.entries))
    assert result.validity == "valid"
    assert result.summary == (
        "4 payments within bounds (1 ok → exactly 1, 2 info → at most 1, 1 fail → none)"
    )
    assert {k: result.stats[k] for k in ("payments", "ok", "info", "fail", "violations")} == {
        "payments": 4,
        "ok": 1,
        "info": 2,
        "fail": 1,
        "violations": 0,
    }


def test_ok_without_any_charge_is_a_violation() -> None:
    """The client was told completed, yet the provider never took the money."""
    h = HistoryBuilder()
    h.charge_ok("w0", "pay_1", 0.5, "ch_ghost")
    result = check_charge_bounds(Evidence(h.ops, []))
    assert result.validity == "invalid"
    [v] = result.violations
    assert (v.payment_id, v.kind) == ("pay_1", "ok-without-charge")
    assert v.because == (
        "payment pay_1 has no charge in the ledger but the client saw ok (ok at op 1), "
        "which allows exactly 1"
    )
    assert v.details["allowed"] == [1, 1] and v.details["deciding_ops"] == [1]


def test_ok_with_two_charges_is_a_violation() -> None:
    """An ok plus a second charge: exactly 1 was allowed."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.charge_ok("w0", "pay_1", 0.0, "ch_b")
    ledger.charged(0.02, "pay_1", "ch_a")
    ledger.charged(0.05, "pay_1", "ch_b")
    [v] = check_charge_bounds(Evidence(h.ops, ledger.entries)).violations
    assert v.kind == "too-many-charges"
    assert v.because == (
        "payment pay_1 was charged 2 times (ch_a, ch_b) but the client saw ok (ok at op 1), "
        "which allows exactly 1"
    )


def test_info_allows_at_most_one_as_jepsens_counter() -> None:
    """Two infos and two charges: unknown outcomes still allow at most one charge."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.invoke("w0", "charge", "pay_1", 0.0)
    ledger.charged(0.1, "pay_1", "ch_a", fault="drop_after")
    h.complete("w0", "info", 0.2, error={"kind": "reset", "status": None, "message": "reset"})
    h.invoke("w0", "charge", "pay_1", 0.3)
    ledger.charged(0.4, "pay_1", "ch_b", fault="error_after")
    h.complete("w0", "info", 0.5, error=server_error(500))
    result = check_charge_bounds(Evidence(h.ops, ledger.entries))
    [v] = result.violations
    assert v.because == (
        "payment pay_1 was charged 2 times (ch_a, ch_b) but its outcomes are unknown "
        "(info at op 1 (reset), info at op 3 (server_error 500)), which allows at most 1"
    )
    assert v.details["excess"] == 1
    assert (v.first_time, v.last_time) == (0.0, 0.5)


def test_only_fail_allows_no_charge() -> None:
    """402 then 409: nothing should have happened, yet a charge exists."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.invoke("w0", "charge", "pay_1", 0.0)
    h.complete("w0", "fail", 0.1, error=DECLINED)
    h.invoke("w1", "charge", "pay_1", 0.2)
    ledger.charged(0.25, "pay_1", "ch_a")
    h.complete("w1", "fail", 0.3, error=CONFLICT)
    [v] = check_charge_bounds(Evidence(h.ops, ledger.entries)).violations
    assert v.kind == "charge-after-fail"
    assert v.because == (
        "payment pay_1 was charged once (ch_a) but every charge request failed "
        "(fail at op 1 (declined 402), fail at op 3 (conflict 409)), which allows none"
    )


def test_an_open_invoke_counts_as_info() -> None:
    """The history ended before the charge completed: it may have happened, once."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.invoke("w0", "charge", "pay_1", 0.1)
    ledger.charged(0.2, "pay_1", "ch_a")
    assert check_charge_bounds(Evidence(h.ops, ledger.entries)).validity == "valid"
    ledger.charged(0.3, "pay_1", "ch_b")
    [v] = check_charge_bounds(Evidence(h.ops, ledger.entries)).violations
    assert "its outcomes are unknown (op 2 never completed), which allows at most 1" in v.because


def test_a_charge_nobody_asked_for_is_a_violation() -> None:
    """The history created pay_1 but never charged it; the ledger shows a charge."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    ledger.charged(0.5, "pay_1", "ch_a")
    [v] = check_charge_bounds(Evidence(h.ops, ledger.entries)).violations
    assert v.kind == "charge-without-request"
    assert v.because == (
        "payment pay_1 was charged once (ch_a) but the client never asked to charge it, "
        "which allows none"
    )


def test_payments_the_history_never_saw_are_counted_not_judged() -> None:
    """A charge for a payment absent from the history is outside this run's bounds."""
    ledger = LedgerBuilder()
    ledger.charged(0.5, "pay_other", "ch_a")
    result = check_charge_bounds(Evidence([], ledger.entries))
    assert result.validity == "valid"
    assert (result.stats["payments"], result.stats["outside_history"]) == (0, 1)


def test_an_orphan_completion_still_sets_the_bound() -> None:
    """An ok whose invoke is missing (malformed history) still means exactly one charge."""
    orphan = Op(
        0,
        1.0,
        1.0,
        "w0",
        "ok",
        "charge",
        "pay_1",
        None,
        {"status": "completed", "charge_id": "ch_a"},
    )
    result = check_charge_bounds(Evidence([orphan], []))
    assert [v.kind for v in result.violations] == ["ok-without-charge"]


def test_worst_offender_has_the_largest_excess() -> None:
    """first/worst/last over two offending payments."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.charge_ok("w0", "pay_1", 0.0, "ch_1a")
    ledger.charged(0.01, "pay_1", "ch_1a")
    ledger.charged(0.02, "pay_1", "ch_1b")
    h.charge_ok("w1", "pay_2", 1.0, "ch_2a")
    for n in range(4):
        ledger.charged(1.01 + n / 100, "pay_2", f"ch_2{n}")
    result = check_charge_bounds(Evidence(h.ops, ledger.entries))
    assert [v.payment_id for v in result.violations] == ["pay_1", "pay_2"]
    assert result.stats["first"]["payment_id"] == "pay_1"
    assert result.stats["worst"]["payment_id"] == "pay_2"
    assert result.stats["worst"]["weight"] == 3
    assert result.stats["last"]["payment_id"] == "pay_2"
    assert result.summary == (
        "2 payments of 2 charged outside the bounds their client outcomes allow; first pay_1"
    )
