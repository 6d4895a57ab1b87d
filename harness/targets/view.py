"""The database view, by the ladder: the target's snapshot, the user's SQL, or payrace's reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from harness.adapters import Adapter, ContractAdapter
from harness.adapters.send import exchange
from harness.errors import ProvisionError, UsageError

Row = dict[str, Any]
VIEW_COLUMNS = ("id", "status", "charge_id", "amount")
READ_THREADS = 16


def validate_db_query(query: str | None, database_url: str | None) -> str | None:
    """--db-query needs --database-url, and must be one read-only SELECT (or WITH) statement."""
    if query is None:
        return None
    text = query.strip().rstrip(";").strip()
    if not text:
        raise UsageError("--db-query: expected a SELECT returning id, status, charge_id, amount")
    if not database_url:
        raise UsageError("--db-query needs --database-url: the service's own database to run it on")
    if text.split(None, 1)[0].lower() not in ("select", "with") or ";" in text:
        raise UsageError(
            f"--db-query: expected one SELECT returning columns id, status, charge_id, amount "
            f"(currency optional), got {query!r}"
        )
    return text


def sql_rows(database_url: str, query: str) -> list[Row]:
    """Run the user's query in a READ ONLY transaction; rows keyed by column name."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from harness.provision.postgres import normalize_url, where

    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = conn.execute(text(query))
            columns = list(result.keys())
            rows = [dict(row) for row in result.mappings()]
    except SQLAlchemyError as exc:
        cause = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        raise ProvisionError(
            f"--db-query failed on the database at {where(database_url)}: {cause}"
        ) from None
    finally:
        engine.dispose()
    missing = [c for c in VIEW_COLUMNS if c not in columns]
    if missing:
        raise UsageError(
            f"--db-query must return columns {', '.join(VIEW_COLUMNS)} (alias yours with AS); "
            f"it returned {', '.join(columns) or 'no columns'}, missing {', '.join(missing)}"
        )
    for row in rows:
        row["id"] = str(row["id"])
        row.setdefault("currency", None)
    return rows


def scope_rows(rows: Iterable[Row], payment_ids: Collection[str]) -> list[Row]:
    """Only the rows of payments this run (or example) created: older rows are not its doing."""
    return [row for row in rows if row.get("id") in payment_ids]


def scope_ledger(
    entries: Iterable[Row], payment_ids: Collection[str]
) -> tuple[list[Row], int]:
    """Entries of this run's payments, plus those naming no payment; and how many were others'.

    A long-lived service may still be finishing an earlier run's payments: their charges
    are not evidence about this run.
    """
    kept: list[Row] = []
    foreign = 0
    for entry in entries:
        pid = entry.get("payment_id")
        if pid is None or pid in payment_ids:
            kept.append(entry)
        else:
            foreign += 1
    return kept, foreign


class HttpReader:
    """The adapter's read of many payments at once; a payment not read `ok` is left out."""

    def __init__(
        self, url: str, timeout_s: float = 5.0, adapter: Adapter | None = None
    ) -> None:
        self._adapter: Adapter = adapter if adapter is not None else ContractAdapter()
        # No keep-alive, as for the admin calls: a killed worker's connection would reset.
        limits = httpx.Limits(max_connections=READ_THREADS, max_keepalive_connections=0)
        self._client = httpx.Client(base_url=url, timeout=timeout_s, limits=limits)
        # One pool for the reader's life: settling polls many rounds.
        self._pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="payrace-read")

    def _one(self, pid: str) -> tuple[str, Row | None]:
        # No answer (an `info`): this payment is simply not read this round.
        _, outcome = exchange(self._client, self._adapter, "read", pid, payment_id=pid)
        row = outcome.value if outcome.type == "ok" else None
        return pid, (row if row and "status" in row else None)

    def __call__(self, ids: Sequence[str]) -> dict[str, Row]:
        if len(ids) <= 2:
            pairs = [self._one(pid) for pid in ids]
        else:
            pairs = list(self._pool.map(self._one, ids))
        return {pid: row for pid, row in pairs if row is not None}

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()
