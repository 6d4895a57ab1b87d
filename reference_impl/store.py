"""Database access shared by every variant: the engine, creating and reading payments, snapshots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import Connection, RowMapping

from reference_impl.config import ServiceConfig
from reference_impl.schema import payments

_SHIFT = text(
    "UPDATE payments SET "
    "created_at = created_at - make_interval(secs => :s), "
    "updated_at = updated_at - make_interval(secs => :s), "
    "lease_expires_at = lease_expires_at - make_interval(secs => :s), "
    "first_attempt_at = first_attempt_at - make_interval(secs => :s)"
)


def new_engine(config: ServiceConfig) -> Engine:
    """One pool per variant instance (= per worker process), as a real service would have."""
    return create_engine(
        config.database_url,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        # A failpoint or a nemesis may kill connections; pre-ping keeps dead ones out of requests.
        pool_pre_ping=True,
        pool_timeout=10,
    )


def new_payment_id() -> str:
    """Payment ids are `pay_<uuid hex>` (docs/CONTRACTS.md)."""
    return f"pay_{uuid.uuid4().hex}"


def row_to_dict(row: RowMapping) -> dict[str, Any]:
    """A payments row as JSON-ready values (timestamps as ISO-8601 strings)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """What `GET /payments/{id}` shows (docs/TARGETS.md)."""
    return {
        "id": row["id"],
        "status": row["status"],
        "charge_id": row["charge_id"],
        "amount": row["amount"],
        "currency": row["currency"],
        "customer": row["customer"],
    }


class PaymentStore:
    """Create and read payments; the variants own every status change."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, amount: int, currency: str, customer: str | None) -> dict[str, Any]:
        payment_id = new_payment_id()
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    insert(payments)
                    .values(id=payment_id, amount=amount, currency=currency, customer=customer)
                    .returning(*payments.c)
                )
                .mappings()
                .one()
            )
        return row_to_dict(row)

    def get(self, payment_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return self.get_in(conn, payment_id)

    @staticmethod
    def get_in(
        conn: Connection, payment_id: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """Read one payment inside the caller's transaction, optionally locking the row."""
        query = select(payments).where(payments.c.id == payment_id)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        return None if row is None else row_to_dict(row)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every payments row, oldest first: the database evidence for the checkers."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(payments).order_by(payments.c.created_at, payments.c.id))
                .mappings()
                .all()
            )
        return [row_to_dict(r) for r in rows]

    def shift_clock(self, seconds: float) -> int:
        """Make `seconds` pass for this service: every stored timestamp moves that far back.

        Leases expire and idempotency keys age as if the time had passed, which is how the
        harness tests what the service does a day after a lost response. Returns rows moved.
        """
        with self.engine.begin() as conn:
            result = conn.execute(_SHIFT, {"s": float(seconds)})
        return int(result.rowcount or 0)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        self.engine.dispose()
