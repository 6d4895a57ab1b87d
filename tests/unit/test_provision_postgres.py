"""PostgreSQL provisioning refuses what it cannot use: one line, exit 3 (no server needed)."""

from __future__ import annotations

import socket

import pytest

from harness.errors import EXIT_PROVISION, EXIT_USAGE, PayraceError
from harness.provision.postgres import (
    database_name,
    normalize_url,
    provision_postgres,
    where,
)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _provision_error(mode: str = "auto", url: str | None = None) -> PayraceError:
    with pytest.raises(PayraceError) as caught, provision_postgres(mode=mode, url=url):
        pass
    return caught.value


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5433/x", "postgresql+psycopg://u:p@db:5433/x"),
        ("postgres://u@db/x", "postgresql+psycopg://u@db/x"),
        ("postgresql+psycopg2://u@db/x", "postgresql+psycopg://u@db/x"),
        ("postgresql://postgres@/x?host=/tmp/pg", "postgresql+psycopg://postgres@/x?host=/tmp/pg"),
    ],
)
def test_any_postgres_url_becomes_a_psycopg3_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_a_url_of_another_database_is_refused_with_exit_3_naming_the_scheme() -> None:
    error = _provision_error(url="mysql://u@db/x")
    assert error.exit_code == EXIT_PROVISION
    assert "'mysql'" in str(error) and "postgresql://" in str(error)


def test_an_unreadable_url_is_refused_with_exit_3_and_the_accepted_shape() -> None:
    error = _provision_error(url="not a url")
    assert error.exit_code == EXIT_PROVISION
    assert "'not a url'" in str(error) and "postgresql://user" in str(error)


def test_a_server_that_does_not_answer_is_named_with_host_port_and_cause() -> None:
    port = _closed_port()
    error = _provision_error(url=f"postgresql://payrace:secret@127.0.0.1:{port}/x")
    message = str(error)
    assert error.exit_code == EXIT_PROVISION
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert "secret" not in message  # the password never reaches a terminal
    assert "\n" not in message


def test_the_environment_url_is_used_when_no_url_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("PAYRACE_DATABASE_URL", f"postgresql://u@127.0.0.1:{port}/x")
    error = _provision_error(mode="embedded")
    assert f"127.0.0.1:{port}" in str(error)


def test_docker_mode_without_an_engine_exits_3_and_offers_the_alternatives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Point the Docker client at a socket that cannot exist, so the test means the same
    # on a machine that does run Docker.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/payrace/docker.sock")
    monkeypatch.delenv("PAYRACE_DATABASE_URL", raising=False)
    error = _provision_error(mode="docker")
    message = str(error)
    assert error.exit_code == EXIT_PROVISION
    assert message.startswith("no Docker engine answered (")
    assert "pass --database-url or use --postgres embedded" in message


def test_an_unknown_mode_is_a_usage_error_listing_the_modes() -> None:
    error = _provision_error(mode="cloud")
    assert error.exit_code == EXIT_USAGE
    assert "auto, embedded, docker" in str(error)


def test_where_names_host_and_port_or_the_socket_directory() -> None:
    assert where("postgresql+psycopg://u@db:6000/x") == "db:6000"
    assert where("postgresql+psycopg://u@db/x") == "db:5432"
    assert where("postgresql+psycopg://u@/x?host=/tmp/pg") == "unix socket in /tmp/pg"


def test_database_names_are_valid_identifiers_and_unique() -> None:
    first = database_name("tests.integration.Test-Reference HTTP")
    second = database_name("tests.integration.Test-Reference HTTP")
    assert first != second
    assert first.startswith("tests_integration_test_reference_http_")
    assert len(database_name("x" * 200)) <= 63
    assert all(c.isalnum() or c == "_" for c in first)
