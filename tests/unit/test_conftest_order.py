"""The suite's collection order: the longest modules tests/conftest.py names exist."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FIRST

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_named_longest_first_exists() -> None:
    """A renamed module would silently lose its place at the head of the queue."""
    assert [p for p in LONGEST_FIRST if not (ROOT / p).is_file()] == []
