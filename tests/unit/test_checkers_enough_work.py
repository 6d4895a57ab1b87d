"""enough-work: too few charges or definite answers make a run inconclusive, never a pass."""

from __future__ import annotations

import pytest

from harness.checkers.enough_work import check_enough_work
from harness.checkers.evidence import Evidence
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, timeout
from harness.errors import UsageError


def _run() -> tuple[HistoryBuilder, LedgerBuilder]:
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.charge_ok("w0", "pay_1", 0.1, "ch_1")
    ledger.charged(0.15, "pay_1", "ch_1")
    h.create("w1", "pay_2", 0.0)
    h.invoke("w1", "charge", "pay_2", 0.1)
    ledger.declined(0.15, "pay_2")
    h.complete("w1", "fail", 0.2, error={"kind": "declined", "status": 402, "message": "d"})
    h.invoke("w2", "charge", "pay_2", 0.3)
    h.complete("w2", "info", 1.3, error=timeout())
    h.invoke("w3", "read", "pay_2", 2.0)  # still open when the run ended
    return h, ledger


def test_enough_work_says_how_much_was_done() -> None:
    """Two executions (1 charge + 1 decline) and four definite answers pass the defaults."""
    h, ledger = _run()
    result = check_enough_work(Evidence(h.ops, ledger.entries))
    assert result.validity == "valid"
    assert result.summary == (
        "the run executed 2 charges (1 succeeded, 1 declined) for 2 payments; 6 client "
        "operations (3 ok, 1 fail, 1 info, 1 never completed)"
    )
    assert {
        k: result.stats[k]
        for k in ("charges", "declines", "executions", "completed", "ok", "fail", "info", "open")
    } == {
        "charges": 1,
        "declines": 1,
        "executions": 2,
        "completed": 4,
        "ok": 3,
        "fail": 1,
        "info": 1,
        "open": 1,
    }


def test_too_few_charges_is_unknown() -> None:
    """Asking for 3 executions when 2 happened makes the run inconclusive."""
    h, ledger = _run()
    result = check_enough_work(Evidence(h.ops, ledger.entries), min_charges=3)
    assert result.validity == "unknown"
    assert result.summary.startswith(
        "inconclusive: only 2 charge executions, need at least 3: the run executed 2 charges"
    )


def test_too_few_definite_answers_is_unknown() -> None:
    """A run whose every request timed out taught nothing about what the client was told."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.invoke("w0", "charge", "pay_1", 0.0)
    ledger.charged(0.1, "pay_1", "ch_1", fault="hang_after")
    h.complete("w0", "info", 5.0, error=timeout())
    result = check_enough_work(Evidence(h.ops, ledger.entries))
    assert result.validity == "unknown"
    assert "only 0 definite answers (ok or fail), need at least 1" in result.summary


def test_an_empty_run_is_unknown_never_valid() -> None:
    """Nothing ran: the default minimums refuse to call that verified."""
    result = check_enough_work(Evidence([], []))
    assert result.validity == "unknown"
    assert result.summary.startswith("inconclusive: only 0 charge executions, need at least 1; ")


def test_replayed_declines_are_not_new_executions() -> None:
    """A replayed 402 did not execute again."""
    h, ledger = _run()
    ledger.request(0.4, "pay_2", status=402, replayed=True)
    assert check_enough_work(Evidence(h.ops, ledger.entries)).stats["declines"] == 1


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_minimums_are_a_usage_error_naming_the_argument(bad: object) -> None:
    """Validated at the boundary: the message names the argument and its value."""
    with pytest.raises(UsageError, match=r"Expected min_charges to be an integer >= 0, got "):
        check_enough_work(Evidence([], []), min_charges=bad)  # type: ignore[arg-type]
