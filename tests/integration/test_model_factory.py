"""The model gets its environment from its factory: no environment is bound for the process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.model.environment import Environment
from harness.model.machine import model_for
from harness.provision.postgres import Provisioned
from tests.integration.test_model_gate import _environment

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def naive(postgres_server: Provisioned, standin_url: str) -> Iterator[Environment]:
    yield from _environment("naive", postgres_server.url, standin_url)


@pytest.fixture(scope="module")
def safe(postgres_server: Provisioned, standin_url: str) -> Iterator[Environment]:
    yield from _environment("safe", postgres_server.url, standin_url)


def test_two_models_alive_at_once_each_charge_through_their_own_environment(
    naive: Environment, safe: Environment
) -> None:
    """Models made by model_for(naive) and model_for(safe), both alive: the same two concurrent
    keyless charges reach each one's own target (naive charges twice, safe once)."""
    models = [model_for(naive)(), model_for(safe)()]
    charged: list[int] = []
    for model, env in zip(models, (naive, safe), strict=True):
        assert model.env is env
        payment = model.create_payment(1000, None)
        assert isinstance(payment, str)
        model.charge(payment, [0, 1], "none")
        env.sync_ledger(model.example)
        charged.append(model.example.charges_per_payment[payment])
        model.example.recorder.close()
    assert charged == [2, 1]
