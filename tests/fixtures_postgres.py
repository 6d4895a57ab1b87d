"""PostgreSQL fixtures: one real server per test session, a fresh database per test module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.provision.postgres import (
    ENV_DATABASE_URL,
    Provisioned,
    fresh_database,
    provision_postgres,
)
from reference_impl.payrace_target import PROVIDER

# The reference service's tables: what every module's own database holds.
REFERENCE_SCHEMA = PROVIDER.schema()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Provisioned]:
    """The session's server: PAYRACE_DATABASE_URL when set, else the embedded wheel (~1 s)."""
    with provision_postgres(mode="embedded", url=os.environ.get(ENV_DATABASE_URL)) as server:
        yield server


@pytest.fixture(scope="module")
def postgres_url(postgres_server: Provisioned, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own for this test module, created from the schema template."""
    prefix = "t_" + request.module.__name__.rsplit(".", 1)[-1]
    with fresh_database(postgres_server.url, prefix, REFERENCE_SCHEMA) as url:
        yield url
