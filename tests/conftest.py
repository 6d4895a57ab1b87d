"""Shared pytest setup: the real parts each test module may ask for live in tests/fixtures_*.py."""

pytest_plugins = [
    "tests.fixtures_postgres",
    "tests.fixtures_standin",
]
