"""Stripe stand-in fixtures: a real stand-in process per test module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.stripe_standin import StandinAdmin, running_standin


@pytest.fixture(scope="module")
def standin_url() -> Iterator[str]:
    """The base URL of a stand-in running in its own process, shared by one test module."""
    with running_standin(seed=0) as url:
        yield url


@pytest.fixture(scope="module")
def _standin_admin_module(standin_url: str) -> Iterator[StandinAdmin]:
    with StandinAdmin(standin_url) as admin:
        yield admin


@pytest.fixture
def standin_admin(_standin_admin_module: StandinAdmin) -> StandinAdmin:
    """An admin client of the module's stand-in, reset so each test starts empty."""
    _standin_admin_module.reset()
    return _standin_admin_module


@pytest.fixture
def standin(standin_url: str, standin_admin: StandinAdmin) -> str:
    """The module's stand-in URL, reset for this test."""
    return standin_url
