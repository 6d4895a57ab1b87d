"""Lock watching and connection kills through payrace's own engine on the target's database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from harness.nemesis.database import terminate_others

# pg_stat_activity is a per-transaction snapshot: clear it, or a poll never sees a change.
LOCK_WAITERS = text(
    "SELECT count(*) FROM (SELECT pg_stat_clear_snapshot()) AS cleared, pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def lock_waiters(conn: Any) -> int:
    """Requests now waiting on a row or table lock in this database."""
    return int(conn.execute(LOCK_WAITERS).scalar_one())


class DatabaseFaults:
    """Lock watching and connection kills through payrace's own engine on the target's database.

    A failure of that engine is a part that stopped working (exit 3), never a step outcome.
    """

    def __init__(self, engine: Any, database_url: str) -> None:
        self._engine = engine
        self._url = database_url

    def _on(self, query: Callable[[Any], int]) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from harness.model.targets import database_problem

        try:
            with self._engine.connect() as conn:
                return query(conn)
        except SQLAlchemyError as exc:
            raise database_problem(exc, self._url) from exc

    def blocked_requests(self) -> int:
        """Requests now waiting on a lock inside the target's database."""
        return self._on(lock_waiters)

    def drop_connections(self) -> int:
        """Terminate every other connection to the database; how many there were."""
        return self._on(terminate_others)
