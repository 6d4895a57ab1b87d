"""The reference service's tables: payments (forward-only status) and armed failpoints."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable

STATUSES = ("pending", "processing", "completed", "failed")
# How long a starting worker waits for its database (a restart takes a second or two).
STARTUP_DB_WAIT_S = 60.0

metadata = MetaData()

payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("customer", String(255), nullable=True),
    Column("status", String(16), nullable=False, server_default="pending"),
    # Unique: one provider charge can settle at most one payment.
    Column("charge_id", String(255), nullable=True, unique=True),
    # The key sent to the provider (only `safe` sends a deterministic one).
    Column("idempotency_key", String(255), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # While `processing`, the worker that claimed the payment owns it until this time.
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    # When the provider key was first used: its 24-hour lifetime starts here.
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="payments_amount_positive"),
    CheckConstraint(
        "status IN ('pending', 'processing', 'completed', 'failed')", name="payments_status_known"
    ),
    CheckConstraint(
        "status <> 'completed' OR charge_id IS NOT NULL", name="payments_completed_has_charge"
    ),
)

failpoints = Table(
    "failpoints",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("action", String(32), nullable=False),
    Column("ms", Integer, nullable=False, server_default="0"),
    # NULL = fire every time; otherwise fire this many more times.
    Column("remaining", Integer, nullable=True),
    Column("armed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("action IN ('crash', 'sleep', 'drop_connection')", name="failpoints_action"),
)

# A check constraint sees one row version only; forward-only transitions need the old row too,
# so a trigger refuses any update that moves a payment's status backwards.
FORWARD_ONLY_TRIGGER = """
CREATE OR REPLACE FUNCTION payrace_status_forward_only() RETURNS trigger AS $$
DECLARE
    rank_old int := array_position(ARRAY['pending','processing','completed','failed'], OLD.status);
    rank_new int := array_position(ARRAY['pending','processing','completed','failed'], NEW.status);
BEGIN
    IF OLD.status IN ('completed', 'failed') AND NEW.status <> OLD.status THEN
        RAISE EXCEPTION 'payment % is %, it cannot become %', OLD.id, OLD.status, NEW.status;
    END IF;
    IF rank_new < rank_old THEN
        RAISE EXCEPTION 'payment % cannot go back from % to %', OLD.id, OLD.status, NEW.status;
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_status_forward_only BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION payrace_status_forward_only();
"""

# DDL() applies %-formatting; the PL/pgSQL RAISE placeholders must survive it.
event.listen(
    payments,
    "after_create",
    DDL(FORWARD_ONLY_TRIGGER.replace("%", "%%")),  # type: ignore[no-untyped-call]
)

# Serialises schema creation when several worker processes start against one database.
_SCHEMA_LOCK_KEY = 0x7061797261636501


def schema_fingerprint() -> str:
    """A short hash of the DDL, so a template of another schema version is never reused."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    ddl = "".join(str(CreateTable(t).compile(dialect=dialect)) for t in metadata.sorted_tables)
    return hashlib.sha256((ddl + FORWARD_ONLY_TRIGGER).encode()).hexdigest()[:12]


def create_schema(connection: Connection) -> None:
    """Create the tables (and trigger) that are missing, under a lock other workers respect."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY})
    metadata.create_all(connection, checkfirst=True)


def ensure_schema(engine: Engine) -> None:
    """Create the schema in its own transaction if this database does not have it yet."""
    with engine.begin() as connection:
        create_schema(connection)


def ensure_schema_when_up(
    engine: Engine, wait_s: float = STARTUP_DB_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """ensure_schema, waiting up to `wait_s` for a database that is down or restarting.

    A worker replaced while its database restarts must wait for it, as a production service's
    readiness does: one that fails its start makes uvicorn's supervisor stop the whole
    service (uvicorn >= 0.33 treats a startup failure as fatal to every worker).
    """
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            ensure_schema(engine)
            return
        except OperationalError:
            if time.monotonic() >= deadline:
                raise
            sleep(delay)
            delay = min(delay * 2, 1.0)
