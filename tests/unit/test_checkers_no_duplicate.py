"""no-duplicate-charge on literal histories and ledgers: exact verdicts, counts and sentences."""

from __future__ import annotations

import json

from harness.checkers.evidence import Evidence
from harness.checkers.no_duplicate_charge import check_no_duplicate_charge
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, timeout


def test_each_payment_charged_once_is_valid_and_replays_do_not_count() -> None:
    """Two payments, one charge each; a replayed request adds no charge."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.charge_ok("w0", "pay_1", 0.1, "ch_1", key="k1")
    h.create("w1", "pay_2", 0.0)
    h.charge_ok("w1", "pay_2", 0.1, "ch_2", key="k2")
    ledger.charged(0.15, "pay_1", "ch_1", key="k1")
    ledger.request(0.16, "pay_1", key="k1", replayed=True)
    ledger.charged(0.15, "pay_2", "ch_2", key="k2")
    result = check_no_duplicate_charge(Evidence(h.ops, ledger.entries))
    assert result.validity == "valid"
    assert result.violations == []
    assert result.summary == "2 charges for 2 payments, none charged twice"
    assert (result.stats["payments"], result.stats["charges"], result.stats["duplicates"]) == (
        2,
        2,
        0,
    )
    assert result.stats["first"] is None and result.stats["worst"] is None


def test_retry_after_lost_response_is_a_duplicate_explained_by_the_info_and_the_retry() -> None:
    """PR #145's failure: the response times out (info), the retry charges again without a key."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.invoke("w0", "charge", "pay_1", 0.2)
    ledger.charged(0.3, "pay_1", "ch_a", fault="hang_after")
    h.complete("w0", "info", 1.2, error=timeout())
    h.invoke("w0", "charge", "pay_1", 1.3)
    ledger.charged(1.4, "pay_1", "ch_b")
    h.complete("w0", "ok", 1.5, value={"id": "pay_1", "status": "completed", "charge_id": "ch_b"})

    result = check_no_duplicate_charge(Evidence(h.ops, ledger.entries))

    assert result.validity == "invalid"
    assert result.severity == "error"
    [v] = result.violations
    assert v.payment_id == "pay_1"
    assert v.kind == "duplicate-charge"
    assert v.because == (
        "payment pay_1 was charged 2 times (ch_a at t=0.300, ch_b at t=1.400) under 2 different "
        "idempotency keys (none, none); the second charge followed an `info` outcome at op 3 "
        "(timeout) and a retry at op 4"
    )
    assert [op["index"] for op in v.operations] == [0, 1, 2, 3, 4, 5]
    assert [e["id"] for e in v.ledger] == ["ch_a", "ch_b"]
    assert [e["request_id"] for e in v.ledger] == ["req_1", "req_3"]
    assert (v.first_time, v.last_time) == (0.0, 1.5)
    assert v.details["charges"] == 2 and v.details["idempotency_keys"] == [None, None]
    assert result.stats["duplicates"] == 1 and result.stats["extra_charges"] == 1
    assert result.stats["worst"]["payment_id"] == "pay_1"
    assert result.summary == "1 payment of 1 charged more than once (1 extra charge); worst pay_1"
    json.dumps(result.to_dict())  # the report writes it as is


def test_concurrent_requests_without_a_key_are_explained_as_a_race() -> None:
    """The naive variant: two workers both see pending and both charge."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.invoke("w0", "charge", "pay_1", 0.10)
    h.invoke("w1", "charge", "pay_1", 0.11)
    ledger.charged(0.20, "pay_1", "ch_a")
    ledger.charged(0.21, "pay_1", "ch_b")
    h.complete("w0", "ok", 0.30, value={"status": "completed", "charge_id": "ch_a"})
    h.complete("w1", "ok", 0.31, value={"status": "completed", "charge_id": "ch_b"})
    [v] = check_no_duplicate_charge(Evidence(h.ops, ledger.entries)).violations
    assert v.because.endswith(
        "; charge requests at ops 0 (w0) and 1 (w1) were in flight at the same time"
    )


def test_an_incomplete_history_still_explains_the_duplicate() -> None:
    """The run died: w0's charge never completed (open = info) while w1 charged again."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.invoke("w0", "charge", "pay_1", 0.1)
    ledger.charged(0.2, "pay_1", "ch_a")
    h.invoke("w1", "charge", "pay_1", 0.5)
    ledger.charged(0.6, "pay_1", "ch_b")
    result = check_no_duplicate_charge(Evidence(h.ops, ledger.entries))
    assert result.validity == "invalid"
    assert (
        "ops 0 (w0, never completed) and 1 (w1, never completed) were in flight"
        in result.violations[0].because
    )


def test_a_refund_does_not_undo_a_double_charge_but_is_named() -> None:
    """Refunding the extra charge still leaves a violation; the refund is in the evidence."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    ledger.charged(0.1, "pay_1", "ch_a", key="k1")
    ledger.charged(0.2, "pay_1", "ch_b", key="k2")
    ledger.refund(0.5, "ch_b", "pay_1", amount=1000, refund_id="re_1")
    [v] = check_no_duplicate_charge(Evidence(h.ops, ledger.entries)).violations
    assert "under 2 different idempotency keys (k1, k2)" in v.because
    assert v.because.endswith("; refunds of 1000 (re_1) do not undo the double charge")
    assert [e["kind"] for e in v.ledger] == ["charge", "charge", "refund"]
    assert v.details["refunded"] == 1000


def test_first_worst_and_last_offenders() -> None:
    """Worst is the payment with the most charges; first and last by time."""
    ledger = LedgerBuilder()
    ledger.charged(1.0, "pay_1", "ch_1a")
    ledger.charged(1.1, "pay_1", "ch_1b")
    ledger.charged(2.0, "pay_2", "ch_2a")
    ledger.charged(2.1, "pay_2", "ch_2b")
    ledger.charged(2.2, "pay_2", "ch_2c")
    ledger.charged(3.0, "pay_3", "ch_3a")
    ledger.charged(3.1, "pay_3", "ch_3b")
    ledger.charged(4.0, "pay_4", "ch_4")
    h = HistoryBuilder()
    h.create("w0", "pay_1", 0.0)
    result = check_no_duplicate_charge(Evidence(h.ops, ledger.entries))
    assert [v.payment_id for v in result.violations] == ["pay_1", "pay_2", "pay_3"]
    assert result.stats["first"]["payment_id"] == "pay_1"
    assert result.stats["worst"]["payment_id"] == "pay_2"
    assert result.stats["worst"]["weight"] == 3
    assert result.stats["last"]["payment_id"] == "pay_3"
    assert (result.stats["payments"], result.stats["charges"]) == (4, 8)
    assert result.stats["extra_charges"] == 4
    # no client op asked for pay_2's charges: the sentence does not invent an explanation
    assert result.violations[1].because == (
        "payment pay_2 was charged 3 times (ch_2a at t=2.000, ch_2b at t=2.100, ch_2c at t=2.200) "
        "under 3 different idempotency keys (none, none, none)"
    )


def test_the_same_key_charging_twice_is_named_as_such() -> None:
    """If the provider itself failed to deduplicate a key, the sentence says so."""
    ledger = LedgerBuilder()
    ledger.charged(1.0, "pay_1", "ch_a", key="k1")
    ledger.charged(1.1, "pay_1", "ch_b", key="k1")
    [v] = check_no_duplicate_charge(Evidence([], ledger.entries)).violations
    assert "under the same idempotency key k1" in v.because


def test_unattributed_charges_make_the_result_unknown() -> None:
    """A charge without metadata.payment_id could hide a double charge: unknown, not valid."""
    ledger = LedgerBuilder()
    ledger.charged(1.0, "pay_1", "ch_a")
    ledger.charged(1.1, None, "ch_b")
    result = check_no_duplicate_charge(Evidence([], ledger.entries))
    assert result.validity == "unknown"
    assert result.stats["unattributed_charges"] == 1
    assert result.summary.startswith("1 charge carry no metadata.payment_id")


def test_failed_and_duplicate_entries_are_not_money() -> None:
    """A non-succeeded charge entry, a replayed entry and a repeated id are not extra charges."""
    ledger = LedgerBuilder()
    ledger.charged(1.0, "pay_1", "ch_a")
    ledger.charge(1.1, "pay_1", "ch_x", status="failed")
    ledger.entries.append(dict(ledger.entries[1], seq=9))  # the same ch_a written twice
    replay = dict(ledger.charge(1.2, "pay_1", "ch_r"), replayed=True)
    ledger.entries[-1] = replay
    result = check_no_duplicate_charge(Evidence([], ledger.entries))
    assert result.validity == "valid"
    assert result.stats["charges"] == 1


def test_empty_evidence_is_valid_here_and_left_to_enough_work() -> None:
    """No charges means no double charge; whether that is enough work is enough-work's call."""
    result = check_no_duplicate_charge(Evidence([], []))
    assert result.validity == "valid"
    assert result.summary == "0 charges for 0 payments, none charged twice"


def test_ledger_wall_time_wins_over_the_advanced_key_clock() -> None:
    """After the stand-in's clock moved a day forward, `wall` still places charges correctly."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    first = ledger.charged(0.3, "pay_1", "ch_a")
    second = ledger.charged(1.4, "pay_1", "ch_b")
    for entry in (first, second):
        entry["wall"] = entry["time"]
        entry["time"] += 86_400  # the key clock, aged by a day
    [v] = check_no_duplicate_charge(Evidence(h.ops, ledger.entries)).violations
    assert "(ch_a at t=0.300, ch_b at t=1.400)" in v.because
