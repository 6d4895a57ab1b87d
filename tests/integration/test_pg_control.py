"""harness.provision.pg_control on a real embedded PostgreSQL: a restart cuts every session and
the server answers again at the same address; an interrupted restart is healed."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from harness.errors import ProvisionError
from harness.provision.pg_control import PgControl
from harness.provision.postgres import Provisioned, libpq_url, provision_postgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_server() -> Iterator[Provisioned]:
    """A server of this module's own: restarting the session's would cut every other test."""
    with provision_postgres(mode="embedded") as server:
        yield server


def test_an_embedded_server_comes_with_its_control_and_a_given_one_without(
        own_server: Provisioned, postgres_server: Provisioned) -> None:
    assert own_server.control is not None and own_server.control.running()
    # A server payrace was given (here: the session's, through its URL) is never restarted.
    with provision_postgres(url=postgres_server.url) as given:
        assert given.tier == "url" and given.control is None


def test_restart_cuts_open_sessions_and_the_server_answers_again(own_server: Provisioned) -> None:
    control = own_server.control
    assert control is not None
    url = libpq_url(own_server.url)
    with psycopg.connect(url, autocommit=True) as before:
        before_pid = before.execute("SELECT pg_backend_pid()").fetchone()
        slept: list[float] = []
        detail = control.restart(0.3, sleep=slept.append)
        assert slept == [0.3]
        assert set(detail) == {"stop_s", "down_s"} and detail["down_s"] >= 0
        with pytest.raises(psycopg.OperationalError):
            before.execute("SELECT 1")  # the session did not survive the server
    with psycopg.connect(url, autocommit=True) as after:
        assert after.execute("SELECT 1").fetchone() == (1,)
        assert after.execute("SELECT pg_backend_pid()").fetchone() != before_pid
    assert control.running()


def test_ensure_running_starts_a_server_a_cut_short_restart_left_down(
        own_server: Provisioned) -> None:
    control = own_server.control
    assert control is not None
    assert control.ensure_running() is False  # up: nothing to do
    assert control.stop_now() is True  # as a restart stopped between its stop and start
    assert not control.running()
    assert control.stop_now() is False  # nothing left to stop
    assert control.ensure_running() is True
    with psycopg.connect(libpq_url(own_server.url), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_control_travels_as_text_and_bad_text_names_the_form() -> None:
    control = PgControl.from_text('["/opt/pg/bin/pg_ctl", "/tmp/x y/data"]')
    assert control is not None and PgControl.from_text(control.to_text()) == control
    assert PgControl.from_text("") is None and PgControl.from_text(None) is None
    with pytest.raises(ProvisionError, match=r'expected \["/path/to/pg_ctl"'):
        PgControl.from_text("/opt/pg/bin/pg_ctl")
