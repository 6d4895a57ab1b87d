"""Shared pytest setup: the real parts each test module may ask for live in tests/fixtures_*.py."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures_postgres",
    "tests.fixtures_standin",
]

# The modules that take longest (minutes of real services and load), collected first:
# `make test` runs the suite in two processes (pytest-xdist, a file at a time), which take
# files in collection order, so the longest start at once instead of being left for last.
LONGEST_FIRST = (
    "tests/quality/test_own_services_judged.py",
    "tests/integration/test_run_scenarios.py",
    "tests/quality/test_variants_caught.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place
