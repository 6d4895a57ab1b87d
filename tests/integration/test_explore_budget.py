"""--max-time stops the search (not the shrinking): the run is judged on what it did."""

from __future__ import annotations

import time

import pytest

from harness.model import PartsRequest, explore, open_environment
from harness.provision.postgres import Provisioned

pytestmark = pytest.mark.integration


def test_max_time_ends_the_search_and_judges_what_ran(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """A few seconds' budget on safe stops early; the verdict rests on the examples run."""
    request = PartsRequest(
        target="reference:safe", workers=2, stripe_url=standin_url,
        database_url=postgres_server.url, seed=0,
    )
    with open_environment(request) as (env, _parts):
        started = time.monotonic()
        # Long enough for a few examples on a busy machine (1 s once ran none under load).
        env.deadline = started + 4.0
        result = explore(env, max_examples=10_000, seed=0)
        elapsed = time.monotonic() - started
    assert "--max-time reached" in result.reason or result.verdict == "inconclusive"
    assert result.verdict in ("verified", "inconclusive")
    # Not a speed claim: 10,000 examples take hours; the budget is what ended this one.
    assert elapsed < 60
    assert 0 < result.stats["examples"] < 10_000
