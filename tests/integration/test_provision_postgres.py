"""Real PostgreSQL provisioning: the embedded tier starts and leaves nothing behind, and fresh
databases come from the schema template, one per caller, dropped on exit."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from harness.provision.postgres import Provisioned, fresh_database, provision_postgres, where
from tests.fixtures_postgres import REFERENCE_SCHEMA

pytestmark = pytest.mark.integration


def _databases(server_url: str) -> set[str]:
    engine = create_engine(server_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_a_fresh_database_has_the_schema_and_is_dropped_on_exit(
    postgres_server: Provisioned,
) -> None:
    with (
        fresh_database(postgres_server.url, "t_fresh", REFERENCE_SCHEMA) as first,
        fresh_database(postgres_server.url, "t_fresh", REFERENCE_SCHEMA) as second,
    ):
        assert first != second
        engine = create_engine(first, poolclass=NullPool)
        try:
            assert {"payments", "failpoints"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        name = make_url(first).database
        assert name in _databases(postgres_server.url)
    assert name not in _databases(postgres_server.url)


def test_without_a_schema_the_fresh_database_is_empty(postgres_server: Provisioned) -> None:
    """A target that owns its schema (python:) gets a database with no tables at all."""
    with fresh_database(postgres_server.url, "t_empty") as url:
        engine = create_engine(url, poolclass=NullPool)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_a_kept_database_survives_its_context(postgres_server: Provisioned) -> None:
    with fresh_database(postgres_server.url, "t_keep", keep=True) as url:
        name = make_url(url).database
    assert name in _databases(postgres_server.url)


def test_auto_without_docker_starts_embedded_postgres_and_leaves_no_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/payrace/docker.sock")
    monkeypatch.delenv("PAYRACE_DATABASE_URL", raising=False)
    with provision_postgres("auto") as server:
        assert server.tier == "embedded" and server.version.split(".")[0].isdigit()
        socket_dir = where(server.url).removeprefix("unix socket in ")
        servers = [
            p for p in psutil.process_iter(["cmdline"])
            if socket_dir in " ".join(p.info["cmdline"] or [])
        ]  # fmt: skip
        assert servers, f"no postgres process serves {socket_dir}"
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.pid for p in servers if _alive(p)] == []
    assert not Path(socket_dir).exists()


def test_an_explicit_url_is_used_as_is_and_named_as_the_url_tier(
    postgres_server: Provisioned,
) -> None:
    with provision_postgres("docker", url=postgres_server.url) as given:
        assert (given.tier, given.url) == ("url", postgres_server.url)
