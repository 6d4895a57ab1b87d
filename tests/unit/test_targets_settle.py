"""Settling (harness.targets.settle): wait until the target finished its own work, or the budget."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from harness.targets.settle import Row, Settled, is_settled, settle

POLL_S = 0.01
QUIET_S = 0.2
LONG_BUDGET_S = 10.0  # never reached by a test that settles: it only bounds a broken loop


@pytest.mark.parametrize(("status", "charged", "settled"), [
    ("pending", True, True), ("pending", False, True),
    ("completed", True, True), ("completed", False, True),
    ("failed", True, True), ("failed", False, True),
    ("processing", False, True),
    ("processing", True, False),
    ("refunded", False, False), ("refunded", True, False),
    ("", False, False), (None, False, False), ("COMPLETED", False, False),
])
def test_is_settled_truth_table(status: str | None, charged: bool, settled: bool) -> None:
    """pending/completed/failed are settled; processing only uncharged; other statuses never."""
    assert is_settled({"id": "p", "status": status}, charged) is settled


def test_is_settled_without_a_row_or_status() -> None:
    """No row read, or a row without a status, is never settled; `charged` defaults to True."""
    assert is_settled(None) is False
    assert is_settled(None, charged=False) is False
    assert is_settled({"id": "p"}, charged=False) is False
    assert is_settled({"status": "processing"}) is False


class FakePoll:
    """`poll(ids)`: each id's statuses in turn (the last one repeats); records every call."""

    def __init__(self, statuses: dict[str, list[str]]) -> None:
        self.statuses = statuses
        self.calls: list[list[str]] = []
        self.reads: dict[str, int] = {}

    def __call__(self, ids: list[str]) -> dict[str, Row]:
        self.calls.append(list(ids))
        rows: dict[str, Row] = {}
        for pid in ids:
            if pid not in self.statuses:
                continue  # unknown to the target: not readable
            n = self.reads.get(pid, 0)
            self.reads[pid] = n + 1
            seq = self.statuses[pid]
            rows[pid] = {"id": pid, "status": seq[min(n, len(seq) - 1)]}
        return rows


def counts(*sequence: dict[str, int]) -> Callable[[], dict[str, int]]:
    """`charged()`: the given counters in turn, the last one repeating."""
    calls = iter(range(10**9))

    def charged() -> dict[str, int]:
        return sequence[min(next(calls), len(sequence) - 1)]

    return charged


def test_returns_at_once_when_everything_settled_and_nothing_processing() -> None:
    """All rows final and none processing: one poll, done, even while the ledger still moves."""
    poll = FakePoll({"a": ["completed"], "b": ["failed"], "c": ["pending"]})
    ledger_reads: list[int] = []

    def charged() -> dict[str, int]:  # a charge more on every read: never still
        ledger_reads.append(len(ledger_reads) + 1)
        return {"a": ledger_reads[-1]}

    result = settle(poll, ["a", "b", "c", "a"], budget_s=LONG_BUDGET_S,
                    charged=charged, poll_s=POLL_S, quiet_s=5.0)
    assert poll.calls == [["a", "b", "c"]]  # duplicates read once
    assert len(ledger_reads) == 2  # the starting count, then one pass: no quiet wait
    assert result.done and result.unsettled == []
    assert {p: r["status"] for p, r in result.rows.items()} == {
        "a": "completed", "b": "failed", "c": "pending"}
    assert result.waited_s < LONG_BUDGET_S
    assert result.describe().endswith(" s of settling")
    assert not result.describe().startswith("the target's reconciliation")


def test_waits_for_a_charged_processing_payment_until_it_completes() -> None:
    """A processing payment the provider charged is polled until its row reports completed."""
    poll = FakePoll({"a": ["processing", "processing", "processing", "completed"],
                     "b": ["completed"]})
    result = settle(poll, ["a", "b"], budget_s=LONG_BUDGET_S, charged=counts({"a": 1, "b": 1}),
                    poll_s=POLL_S, quiet_s=QUIET_S)
    assert poll.calls == [["a", "b"], ["a"], ["a"], ["a"]]
    assert result.done and result.unsettled == []
    assert result.rows["a"]["status"] == "completed"


def test_without_a_ledger_every_processing_payment_counts_as_charged() -> None:
    """`charged=None`: a processing payment is waited for as if charged."""
    poll = FakePoll({"a": ["processing", "failed"]})
    result = settle(poll, ["a"], budget_s=LONG_BUDGET_S, poll_s=POLL_S, quiet_s=QUIET_S)
    assert poll.calls == [["a"], ["a"]]
    assert result.done and result.rows["a"]["status"] == "failed"


def test_an_uncharged_processing_payment_waits_for_the_ledger_to_stay_still() -> None:
    """Processing with no charge is settled, but only once the charged count was still quiet_s."""
    moves = 6
    changed_at: list[float] = []
    calls = 0

    def charged() -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls <= moves:  # another watched payment keeps being charged, then stops
            changed_at.append(time.monotonic())
        return {"b": min(calls, moves)}

    poll = FakePoll({"a": ["processing"], "b": ["completed"]})
    result = settle(poll, ["a", "b"], budget_s=LONG_BUDGET_S, charged=charged,
                    poll_s=POLL_S, quiet_s=QUIET_S)
    ended = time.monotonic()
    assert result.done and result.unsettled == []
    assert calls > moves  # it kept reading the ledger after the last change
    assert ended - changed_at[-1] >= QUIET_S
    assert result.waited_s >= QUIET_S
    assert poll.calls == [["a", "b"]]  # both settled after the first read: no re-reads
    assert result.rows["a"]["status"] == "processing"


def test_gives_up_at_the_budget_listing_what_never_settled() -> None:
    """At the budget: `unsettled` lists the ids (unreadable ones too) and describe() says so."""
    poll = FakePoll({"a": ["processing"], "b": ["completed"]})
    result = settle(poll, ["a", "b", "gone"], budget_s=0.1, charged=counts({"a": 1}),
                    poll_s=POLL_S, quiet_s=QUIET_S)
    assert result.unsettled == ["a", "gone"]
    assert not result.done
    assert result.budget_s == 0.1
    assert result.waited_s >= 0.1
    assert len(poll.calls) >= 2 and all(c == ["a", "gone"] for c in poll.calls[1:])
    assert result.describe() == "payrace waited 0.1 s for the target to settle"
    result.reconcile = {"reconciled": 3}
    assert result.describe() == (
        "the target's reconciliation and payrace waited 0.1 s for the target to settle"
    )


def test_rereads_a_payment_charged_after_it_first_looked_settled() -> None:
    """Processing-uncharged looks settled; once the ledger shows its charge it is read again."""
    charged_now = False
    charged_calls = 0

    def charged() -> dict[str, int]:
        nonlocal charged_now, charged_calls
        charged_calls += 1
        if charged_calls >= 3:  # the initial read and one loop pass see no charge
            charged_now = True
        return {"a": 1} if charged_now else {}

    def poll(ids: list[str]) -> dict[str, Row]:
        calls.append(list(ids))
        return {p: {"id": p, "status": "completed" if charged_now else "processing"}
                for p in ids}

    calls: list[list[str]] = []
    result = settle(poll, ["a"], budget_s=LONG_BUDGET_S, charged=charged,
                    poll_s=POLL_S, quiet_s=5.0)
    assert calls == [["a"], ["a"]]
    assert result.rows["a"]["status"] == "completed"
    assert result.done and result.waited_s < 5.0


def test_no_payments_settle_without_polling() -> None:
    """Nothing to watch: done at once, poll never called."""
    poll = FakePoll({})
    result = settle(poll, [], budget_s=LONG_BUDGET_S, charged=counts({}), poll_s=POLL_S)
    assert poll.calls == [] and result.done and result.rows == {}


def test_as_dict_keys_and_truncation() -> None:
    """as_dict: exactly these keys, waited rounded to ms, at most 50 unsettled ids listed."""
    ids = [f"p{i}" for i in range(60)]
    data = Settled(unsettled=ids, waited_s=1.23456, budget_s=15.0,
                   reconcile={"error": "HTTP 500"}).as_dict()
    assert data == {
        "waited_s": 1.235,
        "budget_s": 15.0,
        "settled": False,
        "unsettled": ids[:50],
        "unsettled_count": 60,
        "reconcile": {"error": "HTTP 500"},
    }
    assert Settled(waited_s=0.5).as_dict() == {
        "waited_s": 0.5, "budget_s": 15.0, "settled": True, "unsettled": [],
        "unsettled_count": 0, "reconcile": None,
    }
    assert Settled(waited_s=2.04).describe() == "2.0 s of settling"
    assert Settled(waited_s=2.04, reconcile={}).describe() == (
        "the target's reconciliation and 2.0 s of settling"
    )
