"""The payments table enforces its own invariants in PostgreSQL, whatever a variant does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, insert, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from harness.provision.postgres import Provisioned, fresh_database, provision_postgres
from reference_impl.schema import ensure_schema_when_up, payments
from reference_impl.store import new_payment_id

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def _payment(engine: Engine, **values: object) -> str:
    payment_id = new_payment_id()
    with engine.begin() as conn:
        row = {"id": payment_id, "amount": 100, "currency": "usd", **values}
        conn.execute(insert(payments).values(**row))
    return payment_id


def _set(engine: Engine, payment_id: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(payments).where(payments.c.id == payment_id).values(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"status": "refunded"},
        {"status": "completed"},  # completed needs a charge id
        {"amount": 0},
    ],
)
def test_a_row_breaking_a_check_constraint_is_refused(
    engine: Engine, values: dict[str, object]
) -> None:
    with pytest.raises(DBAPIError, match="violates check constraint"):
        _payment(engine, **values)


def test_one_charge_id_cannot_settle_two_payments(engine: Engine) -> None:
    _payment(engine, status="completed", charge_id="ch_shared")
    with pytest.raises(DBAPIError, match="unique"):
        _payment(engine, status="completed", charge_id="ch_shared")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("processing", "pending"),
        ("completed", "pending"),
        ("completed", "failed"),
        ("failed", "completed"),
    ],
)
def test_status_never_moves_backwards(engine: Engine, start: str, end: str) -> None:
    charge = {"charge_id": f"ch_{new_payment_id()}"} if "completed" in (start, end) else {}
    payment_id = _payment(engine, status=start, **charge)
    with pytest.raises(DBAPIError, match="cannot"):
        _set(engine, payment_id, status=end)


def test_status_moves_forward_and_the_update_time_follows(engine: Engine) -> None:
    payment_id = _payment(engine)
    _set(engine, payment_id, status="processing")
    _set(engine, payment_id, status="completed", charge_id=f"ch_{payment_id}")
    with engine.connect() as conn:
        row = conn.execute(payments.select().where(payments.c.id == payment_id)).mappings().one()
    assert row["status"] == "completed" and row["updated_at"] > row["created_at"]


@pytest.fixture(scope="module")
def own_server() -> Iterator[Provisioned]:
    """A server of this module's own, stopped and started by the tests below."""
    with provision_postgres(mode="embedded") as server:
        yield server


def test_a_worker_starting_while_its_database_restarts_waits_for_it(
        own_server: Provisioned) -> None:
    """A worker replaced mid-restart must not fail its start (uvicorn would then stop the whole
    service): ensure_schema_when_up waits for the server, up to its limit, and then raises."""
    control = own_server.control
    assert control is not None
    with fresh_database(own_server.url, "t_startup_wait", None) as url:
        engine = create_engine(url)
        try:
            control._pg_ctl("stop", "-m", "fast", "-w")
            with pytest.raises(OperationalError):
                ensure_schema_when_up(engine, wait_s=0.5)  # down past the limit: it says so
            later = threading.Timer(1.5, control.ensure_running)
            later.start()
            ensure_schema_when_up(engine, wait_s=30)
            later.join()
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM payments")).scalar_one() == 0
        finally:
            control.ensure_running()
            engine.dispose()
