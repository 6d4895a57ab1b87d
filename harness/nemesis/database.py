"""The database family: every connection of the service to its database is cut, as by a failover;
a server payrace started is also stopped and started again."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "database"
# Signal every victim at once, then wait for all of them together: terminating one at a
# time with pg_terminate_backend's own timeout costs a few milliseconds per connection.
_DROP = (
    "SELECT array_agg(pid) FROM ("
    "  SELECT pid, pg_terminate_backend(pid) AS sent FROM pg_stat_activity"
    "  WHERE datname = current_database() AND pid <> pg_backend_pid()"
    "  AND backend_type = 'client backend') AS victims WHERE sent"
)
# pg_stat_activity is a per-transaction snapshot: clear it, or a poll never sees a change.
_ALIVE = (
    "SELECT count(*) FROM (SELECT pg_stat_clear_snapshot()) AS cleared, pg_stat_activity "
    "WHERE pid = ANY(:pids)"
)
DROP_WAIT_S = 5.0
# The server's outage: down this long between a fast stop and the start, at most once
# per RESTART_EVERY_S (every client of the database is cut off while it is down).
RESTART_DOWN_S = 1.0
RESTART_EVERY_S = 30.0


def reach(abilities: Abilities) -> tuple[bool, str]:
    if abilities.in_process:
        return True, (
            "the service's database connections are terminated (pg_terminate_backend) on the "
            "database payrace made for it"
        )
    if abilities.database_url and abilities.postgres_restart:
        return True, (
            "the service's database connections are terminated (pg_terminate_backend), and "
            "the PostgreSQL server payrace started is stopped and started again"
        )
    if abilities.database_url:
        return True, "the service's database connections are terminated (pg_terminate_backend)"
    return False, "give --database-url (the service's own database) to cut its connections"


def terminate_others(conn: Any) -> int:
    """Terminate every other client connection to this database; return once they are gone."""
    from sqlalchemy import text  # here: the registry is read by light front doors (the plugin)

    pids = conn.execute(text(_DROP)).scalar_one() or []
    deadline = time.monotonic() + DROP_WAIT_S
    # Waiting makes the fault deterministic: the next step always meets dead connections.
    while pids and time.monotonic() < deadline:
        if not conn.execute(text(_ALIVE), {"pids": pids}).scalar_one():
            break
        time.sleep(0.001)
    return len(pids)


def cut(database_url: str) -> int:
    """Cut every connection to this database from the server side; how many there were."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from harness.provision.postgres import normalize_url

    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return terminate_others(conn)
    finally:
        engine.dispose()


def cut_connections(ctx: NemesisContext) -> Detail:
    """Cut every connection of the service to its database."""
    return {"terminated": cut(str(ctx.database_url))}


def restart_server(ctx: NemesisContext) -> Detail:
    """Stop the PostgreSQL server (fast shutdown), keep it down a moment, start it again."""
    if ctx.postgres is None:
        return None
    return ctx.postgres.restart(RESTART_DOWN_S, ctx.sleep)


def load_faults(ctx: NemesisContext) -> list[Fault]:
    faults = [Fault("terminate-db-connections", cut_connections)] if ctx.database_url else []
    if ctx.postgres is not None:
        faults.append(Fault("restart-postgres", restart_server, RESTART_EVERY_S))
    return faults


def heal(ctx: NemesisContext) -> Detail:
    """A restart cut short (the nemesis stopped between stop and start) leaves the server
    down: start it, so the run's settling and its database view find it."""
    if ctx.postgres is None:
        return None
    return {"started": True} if ctx.postgres.ensure_running() else None


FAMILY = FaultFamily(NAME, reach, load_faults, heal)
