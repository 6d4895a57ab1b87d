"""target-contract: charge ids present, statuses only move forward, charges name payments."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.checkers.evidence import Evidence
from harness.checkers.target_contract import (
    RANK,
    _backwards,
    _observations,
    _suspects,
    check_target_contract,
)
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, row
from harness.history import Op


def test_an_honest_target_is_valid() -> None:
    """pending → processing (202) → completed, charge id everywhere, metadata on the charge."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.invoke("w0", "charge", "pay_1", 0.1)
    h.complete(
        "w0",
        "info",
        0.2,
        value={"status": "processing"},
        error={"kind": "processing", "status": 202, "message": "202"},
    )
    h.read("w1", "pay_1", 0.3, "processing")
    h.charge_ok("w0", "pay_1", 0.5, "ch_1")
    h.read("w1", "pay_1", 0.7, "completed", charge_id="ch_1")
    ledger.charged(0.55, "pay_1", "ch_1")
    result = check_target_contract(
        Evidence(h.ops, ledger.entries, [row("pay_1", "completed", "ch_1")])
    )
    assert result.validity == "valid"
    assert result.summary == (
        "charge ids present, statuses only moved forward, every charge names its payment"
    )


def test_overlapping_reads_may_disagree_in_either_order() -> None:
    """A read that overlapped the completing one may still see processing: not backwards."""
    h = HistoryBuilder()
    h.invoke("w0", "read", "pay_1", 0.0)
    h.read("w1", "pay_1", 0.1, "completed", charge_id="ch_1")
    h.complete("w0", "ok", 0.5, value={"status": "processing"})
    assert check_target_contract(Evidence(h.ops, [])).validity == "valid"


def test_a_status_going_backwards_across_reads_is_a_breach() -> None:
    """completed at op 3, then pending at op 5 which started after: backwards."""
    h = HistoryBuilder()
    h.create("w0", "pay_1", 0.0)
    h.read("w0", "pay_1", 0.2, "completed", charge_id="ch_1")
    h.read("w1", "pay_1", 0.4, "pending")
    result = check_target_contract(Evidence(h.ops, []))
    assert result.validity == "invalid"
    [v] = result.violations
    assert (v.payment_id, v.kind) == ("pay_1", "status-backwards")
    assert v.because == (
        "payment pay_1 went backwards from completed (op 3, t=0.210) to pending (op 5 at "
        "t=0.400); statuses only move pending → processing → completed | failed"
    )
    assert [op["index"] for op in v.operations] == [2, 3, 4, 5]
    assert v.details == {"from": "completed", "to": "pending"}


def test_the_db_snapshot_is_the_last_observation() -> None:
    """The client was told completed; the final row says pending (commit lost after the reply)."""
    h = HistoryBuilder()
    h.charge_ok("w0", "pay_1", 0.0, "ch_1")
    result = check_target_contract(Evidence(h.ops, [], [row("pay_1", "pending")]))
    [v] = result.violations
    assert v.because.startswith(
        "payment pay_1 went backwards from completed (op 1, t=0.100) to pending (the database "
        "snapshot)"
    )
    assert v.db == [row("pay_1", "pending")]


def test_completed_then_failed_is_a_breach_whatever_the_order() -> None:
    """Terminal statuses never change; two overlapping reads disagreeing on them still breach."""
    h = HistoryBuilder()
    h.invoke("w0", "read", "pay_1", 0.0)
    h.read("w1", "pay_1", 0.1, "failed")
    h.complete("w0", "ok", 0.5, value={"status": "completed"})
    [v] = check_target_contract(Evidence(h.ops, [])).violations
    assert "went backwards from completed (op 3, t=0.500) to failed (op 2 at t=0.100)" in v.because


def test_missing_charge_ids_and_missing_metadata_are_breaches() -> None:
    """An ok charge without charge_id, a completed row without one, a charge without metadata."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.invoke("w0", "charge", "pay_1", 0.0)
    h.complete("w0", "ok", 0.1, value={"id": "pay_1", "status": "completed"})
    ledger.charged(0.05, None, "ch_anon")
    db = [row("pay_1", "completed", "ch_anon"), row("pay_2", "completed", None)]
    result = check_target_contract(Evidence(h.ops, ledger.entries, db))
    found = [(v.payment_id, v.kind, v.because) for v in result.violations]
    assert found == [
        (
            "pay_1",
            "ok-without-charge-id",
            "payment pay_1 was charged ok at op 1 but the response carries no charge_id",
        ),
        (
            None,
            "charge-without-payment-id",
            "charge ch_anon at t=0.050 carries no metadata.payment_id, so no checker can tell "
            "whose money it took",
        ),
        (
            "pay_2",
            "completed-without-charge-id",
            "payment pay_2 is completed in the database but has no charge_id",
        ),
    ]
    assert result.stats["by_kind"] == {
        "charge-without-payment-id": 1,
        "completed-without-charge-id": 1,
        "ok-without-charge-id": 1,
    }
    assert result.summary == (
        "3 contract breaches: 1 charge-without-payment-id, 1 completed-without-charge-id, "
        "1 ok-without-charge-id"
    )


def test_an_unknown_status_is_a_breach_and_ignored_for_ordering() -> None:
    """`done` is not a contract status."""
    h = HistoryBuilder()
    h.read("w0", "pay_1", 0.0, "done")
    [v] = check_target_contract(Evidence(h.ops, [])).violations
    assert v.kind == "unknown-status"
    assert v.because == (
        "payment pay_1 reported status 'done' (op 1); the contract allows pending, processing, "
        "completed, failed"
    )


def test_without_a_snapshot_the_summary_says_rows_were_not_checked() -> None:
    """No DB: still checks the history and the ledger, and says what it could not check."""
    result = check_target_contract(Evidence([], []))
    assert result.validity == "valid"
    assert result.summary.endswith("(no database snapshot, so rows were not checked)")


def test_only_payments_not_plainly_forward_need_the_full_sweep() -> None:
    """The linear pre-pass clears forward-only payments; out-of-order or odd ones are swept."""
    from harness.checkers.target_contract import _suspects

    h = HistoryBuilder()
    h.create("w0", "pay_fwd", 0.0)
    h.charge_ok("w0", "pay_fwd", 0.1, "ch_1")
    h.read("w0", "pay_fwd", 0.3, "completed", charge_id="ch_1")
    h.create("w1", "pay_fail", 0.0)
    h.read("w1", "pay_fail", 0.1, "failed")
    h.invoke("w2", "read", "pay_late", 0.0)  # started first, saw completed, overlapped w3
    h.read("w3", "pay_late", 0.1, "processing")
    h.complete("w2", "ok", 0.5, value={"status": "completed"})
    h.read("w4", "pay_odd", 0.0, "done")
    db = [row("pay_fwd", "completed", "ch_1"), row("pay_fail", "failed"), row("pay_x", "pending")]
    evidence = Evidence(h.ops, [], db)
    assert _suspects(evidence) == {"pay_late", "pay_odd"}
    # swept, pay_late is fine (the reads overlapped); pay_odd's status is the only breach
    assert [v.payment_id for v in check_target_contract(evidence).violations] == ["pay_odd"]


_STATUSES = st.sampled_from(["pending", "processing", "completed", "failed", "refunded"])


@settings(max_examples=500)
@given(reads=st.lists(st.tuples(st.sampled_from(["pay_1", "pay_2"]), _STATUSES,
                                st.integers(0, 6).map(float), st.integers(0, 3).map(float)),
                      max_size=8),
       db=st.lists(st.tuples(st.sampled_from(["pay_1", "pay_2"]), _STATUSES), max_size=2))
# Processing seen before a pending read began, listed after it: the later start must count.
@example(reads=[("pay_1", "pending", 0.0, 0.0), ("pay_1", "pending", 6.0, 0.0),
                ("pay_1", "processing", 3.0, 1.0)], db=[])
def test_the_cheap_pass_misses_no_payment_the_full_sweep_finds(
        reads: list[tuple[str, str, float, float]], db: list[tuple[str, str]]) -> None:
    """The pre-pass only spares the full sweep payments that cannot be wrong: any payment with
    a status outside the contract or a step backwards is among its suspects, however the
    reads' starts (out of history order, overlapping) and the DB rows fall."""
    ops = []
    for n, (pid, status, start, took) in enumerate(reads):  # one process each: any overlap
        ops.append(Op(2 * n, start, 0.0, f"w{n}", "invoke", "read", pid))
        ops.append(Op(2 * n + 1, start + took, 0.0, f"w{n}", "ok", "read", pid,
                      value={"status": status}))
    evidence = Evidence(ops, [], [row(pid, status) for pid, status in db])
    found = _observations(evidence, {"pay_1", "pay_2"})
    wrong = {pid for pid, seen in found.items()
             if any(s.status not in RANK for s in seen) or _backwards(seen) is not None}
    assert wrong <= _suspects(evidence)
