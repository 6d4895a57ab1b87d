"""The model drives a real multi-process HTTP service through the HTTP client, ledger and all."""

from __future__ import annotations

import pytest

from harness.model import PartsRequest, explore, open_environment
from harness.provision.postgres import Provisioned, fresh_database
from harness.provision.service import running_service
from tests.fixtures_postgres import REFERENCE_SCHEMA

pytestmark = pytest.mark.integration


def test_safe_served_by_two_uvicorn_workers_passes_over_http(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """Concurrent charges over real HTTP to two worker processes, lost responses and a day
    passing on both clocks (its own through POST /_admin/clock): every checker holds."""
    with fresh_database(
        postgres_server.url, "t_explore_http", REFERENCE_SCHEMA
    ) as db, running_service(
        "safe", 2, db, standin_url
    ) as url, open_environment(
        PartsRequest(target=url, workers=2, faults=("provider", "clock"), stripe_url=standin_url)
    ) as (env, parts):
        result = explore(env, max_examples=25, seed=2, steps=5)
    assert {k: parts["target"][k] for k in ("tier", "url", "workers")} == {
        "tier": "http", "url": url, "workers": 2,
    }
    abilities = parts["target"]["abilities"]
    assert abilities["snapshot"] and abilities["reconcile"] and abilities["clock"]
    assert not abilities["failpoints"]  # served without --failpoints
    assert parts["preflight"]["payment_id"]
    assert result.verdict == "verified", result.reason
    assert result.stats["requests"] > 0
