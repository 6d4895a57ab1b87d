"""The ledger and the search grammar: append-only entries, cursors, JSON Lines, metadata queries."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.stripe_standin.clock import Clock
from harness.stripe_standin.ledger import Ledger
from harness.stripe_standin.search import matches_query, parse_query
from harness.stripe_standin.wire import StripeError


def test_entries_are_numbered_and_paged_by_cursor() -> None:
    ledger = Ledger()
    for i in range(5):
        ledger.append("request", n=i)
    page, cursor = ledger.read(0, 2)
    assert [e["seq"] for e in page] == [1, 2] and cursor == 2
    page, cursor = ledger.read(cursor)
    assert [e["seq"] for e in page] == [3, 4, 5] and cursor == 5
    assert ledger.read(cursor) == ([], 5)
    assert [e["n"] for e in ledger.entries("request")] == [0, 1, 2, 3, 4]


def test_dump_writes_json_lines(tmp_path: Path) -> None:
    ledger = Ledger()
    ledger.append("charge", id="ch_1", amount=5)
    target = tmp_path / "deep" / "ledger.jsonl"
    assert ledger.dump(target) == 1
    [line] = [json.loads(x) for x in target.read_text().splitlines()]
    assert line == {"seq": 1, "kind": "charge", "id": "ch_1", "amount": 5, "wall": line["wall"]}
    assert abs(line["wall"] - time.time()) < 60


def test_add_numbers_a_prepared_entry_in_place() -> None:
    ledger = Ledger()
    ledger.append("charge", id="ch_1")
    entry = ledger.add({"seq": 0, "kind": "request", "wall": 5.0})
    assert entry == {"seq": 2, "kind": "request", "wall": 5.0}
    assert ledger.entries("request") == [entry]


def test_clock_only_moves_forward() -> None:
    clock = Clock()
    before = clock.now()
    assert clock.advance(86400) >= before + 86400
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    clock.reset()
    assert clock.now() < before + 10


def test_search_query_grammar() -> None:
    clauses = parse_query("metadata['payment_id']:'pay_1' AND status:\"succeeded\" AND amount:5")
    assert clauses == [("metadata.payment_id", "pay_1"), ("status", "succeeded"), ("amount", "5")]
    charge = {"metadata": {"payment_id": "pay_1"}, "status": "succeeded", "amount": 5}
    assert matches_query(charge, clauses)
    assert not matches_query({**charge, "amount": 6}, clauses)
    assert not matches_query({"metadata": {}}, [("metadata.payment_id", "pay_1")])


@pytest.mark.parametrize("query", ["", "email:'x'", "metadata['a']~'b'", "amount>5"])
def test_unsupported_queries_are_a_400_naming_query(query: str) -> None:
    with pytest.raises(StripeError) as info:
        parse_query(query)
    assert info.value.param == "query"


def test_a_journal_holds_every_entry_as_it_is_made_and_a_reset_empties_it(
        tmp_path: Path) -> None:
    """Each entry is on disk when append returns (no flush or close needed): a stand-in killed
    right after still leaves it; a reset forgets the journal's lines with the ledger's."""
    journal = tmp_path / "run" / "ledger.jsonl"
    ledger = Ledger(journal)
    ledger.append("request", path="/v1/charges")
    ledger.add({"seq": 0, "kind": "charge", "id": "ch_1", "amount": 100})
    assert [json.loads(line)["seq"] for line in journal.read_text().splitlines()] == [1, 2]
    assert json.loads(journal.read_text().splitlines()[1])["id"] == "ch_1"
    ledger.clear()
    assert journal.read_text() == ""
    ledger.append("request", path="/v1/refunds")
    assert [json.loads(line)["seq"] for line in journal.read_text().splitlines()] == [1]
    ledger.close()
