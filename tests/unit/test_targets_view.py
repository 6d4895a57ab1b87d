"""The database view's input checks and scoping (harness.targets.view): no SQL server needed."""

from __future__ import annotations

import pytest

from harness.errors import EXIT_USAGE, UsageError
from harness.targets.view import Row, scope_ledger, scope_rows, validate_db_query

DB = "postgresql://svc:secret@127.0.0.1:5432/shop"


def test_no_query_passes_with_or_without_a_database() -> None:
    """No --db-query: nothing to check, whatever --database-url says."""
    assert validate_db_query(None, None) is None
    assert validate_db_query(None, DB) is None


@pytest.mark.parametrize("database_url", [None, ""])
def test_a_query_needs_the_database_url(database_url: str | None) -> None:
    """--db-query without --database-url is a UsageError naming --database-url."""
    with pytest.raises(UsageError) as caught:
        validate_db_query("SELECT id, status, charge_id, amount FROM orders", database_url)
    assert caught.value.exit_code == EXIT_USAGE
    assert str(caught.value) == (
        "--db-query needs --database-url: the service's own database to run it on"
    )


@pytest.mark.parametrize("query", ["", "   ", ";", " ; ", ";;"])
def test_an_empty_query_is_refused(query: str) -> None:
    """An empty query (blanks and semicolons only) is refused, saying what is expected."""
    with pytest.raises(UsageError) as caught:
        validate_db_query(query, DB)
    assert str(caught.value) == (
        "--db-query: expected a SELECT returning id, status, charge_id, amount"
    )


@pytest.mark.parametrize("query", [
    "UPDATE orders SET state = 'failed'",
    "DELETE FROM orders",
    "INSERT INTO orders VALUES (1)",
    "TABLE orders",
    "(SELECT id FROM orders)",
    "selectid, status FROM orders",
    "SELECT 1; DROP TABLE orders",
    "SELECT id FROM orders; SELECT id FROM orders;",
    "WITH a AS (SELECT 1) SELECT * FROM a; DELETE FROM orders",
])
def test_anything_but_one_select_or_with_is_refused(query: str) -> None:
    """Not SELECT/WITH, or more than one statement: a UsageError quoting the query."""
    with pytest.raises(UsageError) as caught:
        validate_db_query(query, DB)
    assert caught.value.exit_code == EXIT_USAGE
    message = str(caught.value)
    assert message.startswith("--db-query: expected one SELECT returning columns id, status, "
                              "charge_id, amount (currency optional), got ")
    assert message.endswith(repr(query))


@pytest.mark.parametrize(("query", "accepted"), [
    ("SELECT id, status, charge_id, amount FROM orders",
     "SELECT id, status, charge_id, amount FROM orders"),
    ("  select id, state AS status, ref AS charge_id, amount FROM orders ;  ",
     "select id, state AS status, ref AS charge_id, amount FROM orders"),
    ("SELECT 1;", "SELECT 1"),
    ("SELECT 1;;", "SELECT 1"),
    ("WITH o AS (SELECT * FROM orders) SELECT id, status, charge_id, amount FROM o;",
     "WITH o AS (SELECT * FROM orders) SELECT id, status, charge_id, amount FROM o"),
    ("with o as (select 1)\nselect * from o", "with o as (select 1)\nselect * from o"),
    ("SELECT\n  id\nFROM orders", "SELECT\n  id\nFROM orders"),
])
def test_one_select_or_with_is_accepted_without_its_trailing_semicolon(
    query: str, accepted: str
) -> None:
    """A single SELECT or WITH (any case) is accepted, trimmed, its trailing `;` stripped."""
    assert validate_db_query(query, DB) == accepted


def test_scope_rows_keeps_only_this_runs_payments() -> None:
    """Rows of the given ids are kept in order; other payments' and id-less rows are dropped."""
    rows: list[Row] = [
        {"id": "p1", "status": "completed"},
        {"id": "old", "status": "processing"},
        {"id": "p2", "status": "pending"},
        {"status": "completed"},
        {"id": None, "status": "failed"},
    ]
    assert scope_rows(rows, {"p1", "p2", "p3"}) == [
        {"id": "p1", "status": "completed"}, {"id": "p2", "status": "pending"}]
    assert scope_rows(rows, set()) == []
    assert scope_rows(iter(rows), ["old"]) == [{"id": "old", "status": "processing"}]


def test_scope_ledger_keeps_ours_and_unattributed_entries_and_counts_the_others() -> None:
    """Entries of our ids and those naming no payment are kept; others' are counted foreign."""
    entries: list[Row] = [
        {"seq": 1, "kind": "request", "payment_id": None},
        {"seq": 2, "kind": "charge", "payment_id": "p1"},
        {"seq": 3, "kind": "charge", "payment_id": "earlier"},
        {"seq": 4, "kind": "charge"},
        {"seq": 5, "kind": "request", "payment_id": "earlier"},
        {"seq": 6, "kind": "refund", "payment_id": "p2"},
    ]
    kept, foreign = scope_ledger(entries, {"p1", "p2"})
    assert [e["seq"] for e in kept] == [1, 2, 4, 6]
    assert foreign == 2
    kept, foreign = scope_ledger(iter(entries), set())
    assert [e["seq"] for e in kept] == [1, 4]
    assert foreign == 4
    assert scope_ledger([], {"p1"}) == ([], 0)
