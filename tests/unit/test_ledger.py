"""The one rule for a money movement in the provider's ledger, and counting each charge once."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers.evidence import is_money_charge as checkers_is_money_charge
from harness.ledger import is_money_charge, money_charges


def charge(**fields: Any) -> dict[str, Any]:
    return {"seq": 1, "kind": "charge", "id": "ch_1", "payment_id": "pay_1", **fields}


@pytest.mark.parametrize(("entry", "moved"), [
    (charge(status="succeeded"), True),
    (charge(), True),  # an older ledger without a status: a charge entry is a success
    (charge(status="failed"), False),
    (charge(status=None), False),
    (charge(status="succeeded", replayed=True), False),  # a replay sends the old answer only
    ({"seq": 1, "kind": "request", "status": 200, "payment_id": "pay_1"}, False),
    ({"seq": 1, "kind": "refund", "id": "re_1", "charge": "ch_1"}, False),
])
def test_only_a_succeeded_charge_that_is_not_a_replay_moved_money(
    entry: dict[str, Any], moved: bool
) -> None:
    assert is_money_charge(entry) is moved


def test_the_checkers_predicate_is_the_same_rule() -> None:
    """harness.checkers.evidence.is_money_charge stays importable and is this one rule."""
    assert checkers_is_money_charge is is_money_charge


def test_money_charges_counts_one_charge_id_once_in_ledger_order() -> None:
    """The same movement written twice is one charge; entries without an id differ by seq."""
    entries = [
        charge(seq=1, id="ch_b"),
        {"seq": 2, "kind": "request", "status": 200},
        charge(seq=3, id="ch_a"),
        charge(seq=4, id="ch_b"),  # ch_b again: not a second charge
        charge(seq=5, id="ch_c", replayed=True),
        charge(seq=6, id=None),
        charge(seq=7, id=None),
    ]
    assert [e["seq"] for e in money_charges(entries)] == [1, 3, 6, 7]
    assert money_charges([]) == []
