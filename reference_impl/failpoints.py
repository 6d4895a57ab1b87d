"""Failpoints: named points in the variants where a fault armed in the database fires anywhere."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from reference_impl.schema import failpoints as failpoints_table

_log = logging.getLogger("reference_impl.failpoints")

# Not 3: uvicorn's supervisor reads exit code 3 as "failed to start" and stops restarting workers.
CRASH_EXIT_CODE = 1

# Decrement and read in one statement, so a count=1 failpoint fires in exactly one worker.
_CONSUME = text(
    "UPDATE failpoints SET remaining = remaining - 1 "
    "WHERE name = :name AND (remaining IS NULL OR remaining > 0) RETURNING action, ms"
)


class SimulatedCrash(BaseException):
    """A `crash` failpoint in crash_mode "raise": the worker dies here, its transaction rolls back.

    A BaseException so that no `except Exception` in a variant can survive its own death.
    """


class Failpoints:
    """Arm, list, clear and fire failpoints; firing does nothing unless the service enabled them."""

    def __init__(self, engine: Engine, enabled: bool, crash_mode: str = "exit") -> None:
        self.engine = engine
        self.enabled = enabled
        self.crash_mode = crash_mode

    def arm(self, name: str, action: str, ms: int = 0, count: int | None = None) -> dict[str, Any]:
        values = {"name": name, "action": action, "ms": ms, "remaining": count}
        statement = pg_insert(failpoints_table).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"action": action, "ms": ms, "remaining": count, "armed_at": text("now()")},
        )
        with self.engine.begin() as conn:
            conn.execute(statement)
        return values

    def clear(self) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(failpoints_table)).rowcount

    def armed(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(
                        failpoints_table.c.name,
                        failpoints_table.c.action,
                        failpoints_table.c.ms,
                        failpoints_table.c.remaining,
                    ).order_by(failpoints_table.c.name)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def hit(self, name: str, conn: Connection | None = None) -> None:
        """Fire failpoint `name` if armed; `conn` is the caller's open transaction, if any."""
        if not self.enabled:
            return
        with self.engine.begin() as own:
            row = own.execute(_CONSUME, {"name": name}).first()
        if row is None:
            return
        action, ms = str(row[0]), int(row[1])
        _log.warning("failpoint %s fires: %s ms=%d in pid %d", name, action, ms, os.getpid())
        if action == "sleep":
            time.sleep(ms / 1000.0)
        elif action == "crash":
            if self.crash_mode == "raise":
                raise SimulatedCrash(f"failpoint {name} crashed this worker")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)
        elif action == "drop_connection":
            self._drop(conn, name)

    def _drop(self, conn: Connection | None, name: str) -> None:
        if conn is None:
            # Nothing is open at this point in this variant: there is no connection to lose.
            _log.warning("failpoint %s: no open database connection here, nothing dropped", name)
            return
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        # Killed from another session, as an operator or a failover would: the victim only
        # learns of it at its next statement or its commit.
        with self.engine.begin() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid, 2000)"), {"pid": pid})
