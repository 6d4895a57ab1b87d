"""db-consistency: the DB snapshot and the ledger must agree about who paid, on literal evidence."""

from __future__ import annotations

from harness.checkers.db_consistency import check_db_consistency
from harness.checkers.evidence import Evidence
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, row


def _consistent() -> tuple[HistoryBuilder, LedgerBuilder, list[dict[str, object]]]:
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.charge_ok("w0", "pay_1", 0.1, "ch_1")
    ledger.charged(0.15, "pay_1", "ch_1")
    h.create("w1", "pay_2", 0.0)
    ledger.declined(0.15, "pay_2")
    return h, ledger, [row("pay_1", "completed", "ch_1"), row("pay_2", "failed")]


def test_matching_snapshot_and_ledger_is_valid() -> None:
    """A completed payment with its one charge and a failed one with none agree."""
    h, ledger, db = _consistent()
    result = check_db_consistency(Evidence(h.ops, ledger.entries, db, reconciled=True))
    assert result.validity == "valid"
    assert result.summary == (
        "2 payments in the snapshot: 1 completed, each with exactly one matching charge; "
        "no charge without a completed order"
    )
    assert (result.stats["rows"], result.stats["completed"], result.stats["violations"]) == (
        2,
        1,
        0,
    )


def test_no_snapshot_is_unknown() -> None:
    """Without the DB there is nothing to match: unknown, never valid."""
    h, ledger, _ = _consistent()
    result = check_db_consistency(Evidence(h.ops, ledger.entries, None))
    assert result.validity == "unknown"
    assert result.summary.startswith("no database snapshot was collected")


def test_charge_whose_payment_is_not_completed_after_reconciliation_is_money_taken_order_lost() -> (
    None
):
    """The commit failed after the charge and reconciliation did not repair it."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.invoke("w0", "charge", "pay_1", 0.1)
    ledger.charged(0.2, "pay_1", "ch_a")
    h.complete("w0", "info", 0.3, error={"kind": "server_error", "status": 500, "message": "x"})
    db = [row("pay_1", "pending")]
    result = check_db_consistency(Evidence(h.ops, ledger.entries, db, reconciled=True))
    assert result.validity == "invalid"
    [v] = result.violations
    assert (v.payment_id, v.kind) == ("pay_1", "money-taken-order-lost")
    assert v.because == (
        "payment pay_1 was charged (ch_a at t=0.200) but is still pending after reconciliation: "
        "money taken, order lost"
    )
    assert v.db == [row("pay_1", "pending")]
    assert [op["index"] for op in v.operations] == [0, 1, 2, 3]
    assert v.details == {"charges": 1, "amount_at_stake": 1000}
    assert result.stats["worst"]["payment_id"] == "pay_1"


def test_before_reconciliation_such_charges_are_pending_so_unknown() -> None:
    """Not reconciled yet: the payment may still complete, so the verdict is unknown."""
    ledger = LedgerBuilder()
    ledger.charged(0.2, "pay_1", "ch_a")
    result = check_db_consistency(Evidence([], ledger.entries, [row("pay_1", "processing")]))
    assert result.validity == "unknown"
    assert result.stats["charged_not_completed"] == 1
    assert result.stats["pending_payments"] == ["pay_1"]
    assert "not reconciled" in result.summary


def test_a_charge_for_a_payment_missing_from_the_db_is_a_loss_even_unreconciled() -> None:
    """No row at all can never be repaired by a reconciler."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    ledger.charged(0.2, "pay_9", "ch_a")
    [v] = check_db_consistency(Evidence(h.ops, ledger.entries, [])).violations
    assert v.kind == "money-taken-no-order"
    assert v.because == (
        "the ledger charged payment pay_9 (ch_a at t=0.200) but the database has no such "
        "payment: money taken, order lost"
    )


def test_completed_rows_must_name_a_real_matching_charge() -> None:
    """No charge_id, an unknown charge_id, another payment's charge, a different amount."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_0", 0.0)
    ledger.charged(0.1, "pay_2", "ch_2")
    ledger.charged(0.2, "pay_3", "ch_3")
    ledger.charged(0.3, "pay_4", "ch_4", amount=2000)
    ledger.charged(0.4, "pay_5", "ch_5")
    db = [
        row("pay_1", "completed", None),
        row("pay_2", "completed", "ch_missing"),
        row("pay_3", "completed", "ch_5"),
        row("pay_4", "completed", "ch_4", amount=1000),
        row("pay_5", "completed", "ch_5"),
        row("pay_6", "completed", "ch_missing"),
    ]
    result = check_db_consistency(Evidence(h.ops, ledger.entries, db, reconciled=True))
    found = [(v.payment_id, v.kind, v.because) for v in result.violations]
    # Ordered by time; violations with no op or charge to date them come last.
    assert found == [
        (
            "pay_2",
            "completed-without-charge",
            "payment pay_2 is completed with charge_id ch_missing, but the ledger holds no charge "
            "ch_missing; it holds 1 charge for it (ch_2 at t=0.100)",
        ),
        (
            "pay_3",
            "charge-of-another-payment",
            "payment pay_3 is completed with charge_id ch_5, but that charge was made for payment "
            "pay_5",
        ),
        (
            "pay_3",
            "completed-with-extra-charges",
            "payment pay_3 is completed with ch_5 but the ledger holds 1 charge for it "
            "(ch_3 at t=0.200): ch_3 is money taken that no order records",
        ),
        (
            "pay_4",
            "amount-mismatch",
            "payment pay_4 is completed for 1000 usd but its charge ch_4 took 2000 usd",
        ),
        (
            "pay_1",
            "completed-without-charge-id",
            "payment pay_1 is completed but records no charge_id; "
            "the ledger holds 0 charges for it",
        ),
        (
            "pay_6",
            "completed-without-charge",
            "payment pay_6 is completed with charge_id ch_missing, but the ledger holds no charge "
            "ch_missing: the order says paid, no money was taken",
        ),
    ]
    assert [e["id"] for e in result.violations[1].ledger] == ["ch_3", "ch_5"]
    assert result.summary.startswith("6 disagreements between the database and the ledger; first: ")


def test_a_completed_payment_with_an_extra_charge_names_the_unrecorded_money() -> None:
    """completed ⇔ exactly one charge: the second charge is money no order records."""
    ledger = LedgerBuilder()
    ledger.charged(0.1, "pay_1", "ch_a")
    ledger.charged(0.2, "pay_1", "ch_b")
    # No history: times are measured from the first ledger entry.
    [v] = check_db_consistency(
        Evidence([], ledger.entries, [row("pay_1", "completed", "ch_b")])
    ).violations
    assert v.kind == "completed-with-extra-charges"
    assert v.because == (
        "payment pay_1 is completed with ch_b but the ledger holds 2 charges for it "
        "(ch_a at t=0.000, ch_b at t=0.100): ch_a is money taken that no order records"
    )


def test_a_charge_linked_by_id_but_lacking_payment_id_still_matches() -> None:
    """The row's charge_id finds the charge even without metadata (target-contract flags that)."""
    ledger = LedgerBuilder()
    ledger.charged(0.1, None, "ch_a")
    result = check_db_consistency(Evidence([], ledger.entries, [row("pay_1", "completed", "ch_a")]))
    assert result.validity == "valid"


def test_payment_intent_rows_may_store_the_latest_charge_id() -> None:
    """A PaymentIntent ledger entry also answers to its latest_charge id."""
    ledger = LedgerBuilder()
    entry = ledger.charge(0.1, "pay_1", "pi_1", obj="payment_intent")
    entry["latest_charge"] = "ch_of_pi_1"
    db = [row("pay_1", "completed", "ch_of_pi_1")]
    assert check_db_consistency(Evidence([], ledger.entries, db)).validity == "valid"
