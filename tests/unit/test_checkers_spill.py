"""Spill: rows routed to partitions come back, per partition, as they went in and in file order."""

from __future__ import annotations

import contextlib
import random
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checkers.spill import CHUNK_ROWS, Rows, Spill, in_file_order, read_rows
from harness.jsonl import lines_of, parse_lines


def test_lines_and_values_come_back_in_file_order_across_chunks_and_spills() -> None:
    """Rows of one partition spread over two spill files and many chunks, added out of order
    (as a deferred invoke is), read back whole and sorted by position."""
    rng = random.Random(7)
    positions = list(range(3 * CHUNK_ROWS + 5))
    rng.shuffle(positions)
    with contextlib.closing(Spill(2, ("h", "d"))) as first, \
            contextlib.closing(Spill(2, ("h",))) as second:
        for n, position in enumerate(positions):
            spill = first if n % 3 else second
            spill.add(position % 2, "h", position, b'{"n":%d}\n' % position)
            # A DB view's row: its bytes without a newline (evidence.read_db_lines).
            first.add(position % 2, "d", position, b'{"n":%d,"x":[null,1.5]}' % position)
        first.flush()
        second.flush()
        for p in (0, 1):
            sources = [(s.fileno(), s.located([p], "h")) for s in (first, second)]
            lines = _pairs(read_rows(sources, lines_of))
            parsed = _pairs(read_rows(sources, parse_lines))
            values = _pairs(read_rows([(first.fileno(), first.located([p], "d"))], parse_lines))
            mine = sorted(x for x in positions if x % 2 == p)
            assert [n for n, _ in lines] == mine
            assert [line for _, line in lines] == [b'{"n":%d}' % n for n in mine]
            assert parsed == [(n, {"n": n}) for n in mine]
            assert values == [(n, {"n": n, "x": [None, 1.5]}) for n in mine]


def test_a_line_without_its_newline_gets_one_and_a_short_file_is_an_error() -> None:
    with contextlib.closing(Spill(1, ("h",))) as spill:
        spill.add(0, "h", 1, b'{"a":1}')  # the file's last line, cut before its newline
        spill.add(0, "h", 0, b'{"a":0}\n')
        spill.flush()
        located = spill.located([0], "h")
        assert _pairs(read_rows([(spill.fileno(), located)], parse_lines)) == [
            (0, {"a": 0}), (1, {"a": 1})]
        offset, size, count = located[0]
        bad: list[Any] = [(offset, size + 8, count)]  # names more bytes than the file holds
        with pytest.raises(OSError, match="short"):
            read_rows([(spill.fileno(), bad)], lines_of)


def _pairs(rows: Rows) -> list[tuple[int, Any]]:
    """(position, value) for each row, in the order read_rows gave them."""
    return list(zip(rows.positions, rows.values, strict=True))


@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), unique=True, max_size=60))
def test_in_file_order_is_a_stable_sort_by_position(positions: list[int]) -> None:
    """Whatever the positions (in order already, reversed, interleaved runs as several
    partitions give, negative): the values come back sorted by them, each with its own."""
    values = [object() for _ in positions]
    rows = in_file_order(array("q", positions), values)
    expected = sorted(zip(positions, values, strict=True), key=lambda pair: pair[0])
    assert list(rows.positions) == [p for p, _ in expected]
    assert [id(v) for v in rows.values] == [id(v) for _, v in expected]
