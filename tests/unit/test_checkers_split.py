"""The history routed in parts by several routers gives exactly the one pass's partitions."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checkers.routing import HISTORY, HistoryRouter, Partitions
from harness.checkers.spill import Spill, read_rows
from harness.checkers.split import (
    lines_before,
    route_history_part,
    routing_spans,
    spans,
)
from harness.errors import UsageError
from harness.history import scan_ops
from harness.jsonl import JsonlRows, LoneCarriageReturn, lines_of, write_jsonl

PARTITIONS = 16


def _history(seed: int, ops: int) -> list[dict[str, Any]]:
    """Interleaved processes doing everything the router has a rule for: invokes with and
    without a payment id and their completions, and, rarely (each links two partitions),
    completions of another f (orphans), twice in a row, naming another payment; invokes
    never completed."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    open_: dict[str, tuple[str, str | None, str]] = {}  # process -> (f, pid, payment)
    for index in range(ops):
        process = f"p{rng.randrange(9)}"
        payment = f"pay_{rng.randrange(60)}"
        roll = rng.random()
        if process not in open_ or roll < 0.04:  # an invoke (perhaps leaving one open)
            f = rng.choice(("create", "charge", "read"))
            pid = None if f == "create" and rng.random() < 0.7 else payment
            open_[process] = (f, pid, payment)
            type_ = "invoke"
        else:
            f, pid, payment = open_.pop(process)
            pid = payment
            if roll < 0.06:  # an orphan: another f
                f = "read" if f != "read" else "charge"
            elif roll < 0.08:  # the completion names another payment
                pid = f"pay_{rng.randrange(60)}"
            if roll < 0.1:  # and the process completes once more: an orphan after it
                open_[process] = (f, pid, payment)
            type_ = rng.choice(("ok", "ok", "fail", "info"))
        rows.append({"index": index, "time": index / 1000, "wall": 1.7e9 + index / 1000,
                     "process": process, "type": type_, "f": f, "payment_id": pid,
                     "idempotency_key": None,
                     "value": {"id": pid} if type_ == "ok" else None, "error": None})
    return rows


def _rows(spills: list[Spill]) -> dict[int, list[Any]]:
    """Each partition's lines, in the order read_rows puts them (a later part's positions
    are numbered by its place, so only the order they make is the one pass's)."""
    for spill in spills:
        spill.flush()
    return {p: read_rows([(spill.fileno(), spill.located([p], HISTORY)) for spill in spills],
                         lines_of).values
            for p in range(PARTITIONS)}


def _whole(path: Path) -> tuple[dict[int, list[Any]], list[list[int]], float | None]:
    parts, spill = Partitions(PARTITIONS), Spill(PARTITIONS, (HISTORY,))
    router = HistoryRouter(parts, spill)
    for number, line, op in scan_ops(path):
        router.route(number, line, op)
    router.finish()
    return _rows([spill]), parts.groups(), router.origin


def _in_parts(path: Path, cuts: list[int],
              ) -> tuple[dict[int, list[Any]], list[list[int]], float | None]:
    """The first part routed here, each later one by its own router, as side processes do."""
    parts, first = Partitions(PARTITIONS), Spill(PARTITIONS, (HISTORY,))
    bounds = [0, *cuts, None]
    router = HistoryRouter(parts, first)
    for number, line, op in scan_ops(path, span=(0, bounds[1], 1)):
        router.route(number, line, op)
    spills = [first]
    for place, (start, end) in enumerate(itertools.pairwise(bounds[1:]), 1):
        own, spill = Partitions(PARTITIONS), Spill(PARTITIONS, (HISTORY,))
        assert start is not None
        routed, torn = route_history_part(own, spill, path, start, end, place)
        assert torn == 0
        parts.adopt(own.roots())
        router.join(routed)
        spills.append(spill)
    router.finish()
    return _rows(spills), parts.groups(), router.origin


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_any_cuts_give_the_one_pass_partitions_links_and_origin(tmp_path: Path,
                                                                seed: int) -> None:
    path = tmp_path / "history.jsonl"
    write_jsonl(path, _history(seed, 400))
    starts = [0]
    for line in path.read_bytes().splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    whole = _whole(path)
    assert len(whole[1]) > 1  # the links leave more than one group: a wrong link shows
    rng = random.Random(seed)
    for cuts in ([starts[1]], [starts[-2]], [starts[200]], starts[1:-1:37],
                 sorted(rng.sample(starts[1:-1], 5)), starts[1:-1:3]):
        assert _in_parts(path, cuts) == whole, cuts


def test_spans_start_at_lines_and_count_them(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"".join(b'{"n":%d}\r\n' % n if n % 3 else b'{"n":%d}\n' % n
                              for n in range(1000)))
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    cut = spans(path, 3)
    assert len(cut) == 3 and cut[0][0] == 0 and cut[-1][1] is None
    data = path.read_bytes()
    for start, _ in cut[1:]:
        assert data[start - 1:start] == b"\n"
        assert lines_before(path, start) == data[:start].count(b"\n")
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1 << 20)
    assert spans(path, 3) == [(0, None)]  # too small to be worth a process
    path.write_bytes(b'{"n":1}\r\r\n{"n":2}\n')
    with pytest.raises(LoneCarriageReturn):
        lines_before(path, len(b'{"n":1}\r\r\n'))


def test_the_ledgers_process_is_left_the_history_its_cpu_has_time_for(
        tmp_path: Path, monkeypatch: Any) -> None:
    """Every routing process gets about the same work: the history's ranges are equal, and the
    ledger's process (which routes the ledger and DB view first) gets the rest of the history
    when the ledger is the smaller; none when it is the larger."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    cost = 1.15  # a ledger byte's weight, whatever it is measured to be: the sizes below
    monkeypatch.setattr("harness.checkers.split.LEDGER_COST", cost)
    history, ledger, db = (tmp_path / name for name in ("history", "ledger", "db"))
    history.write_bytes(b"".join(b'{"n":%05d}\n' % n for n in range(10_000)))  # 12-byte lines
    ledger.write_bytes(b"x" * 30_000)
    db.write_bytes(b"x" * 10_000)
    size = history.stat().st_size
    for cpus in (2, 3):
        own, tail = routing_spans(history, (ledger, db, None), cpus)
        assert tail is not None and len(own) == cpus - 1
        each = (size + cost * 40_000) / cpus
        for start, end in own:
            assert end is not None and abs(end - start - each) <= 12  # to the next line start
        assert own[0][0] == 0 and own[-1][1] == tail
        assert history.read_bytes()[tail - 1:tail] == b"\n"
        assert all(a[1] == b[0] for a, b in itertools.pairwise(own))
        assert (size - tail) + cost * 40_000 == pytest.approx(each, abs=12)
    ledger.write_bytes(b"x" * 200_000)  # the ledger takes more than a CPU's share
    assert routing_spans(history, (ledger, db), 2) == ([(0, None)], None)
    assert routing_spans(history, (ledger, db), 3) == (spans(history, 2), None)
    assert routing_spans(history, (ledger,), 1) == ([(0, None)], None)
    assert routing_spans(tmp_path / "missing", (ledger,), 2) == ([(0, None)], None)


def test_a_damaged_line_at_the_end_of_a_part_is_refused_not_torn(tmp_path: Path) -> None:
    """Only the file's last line may be torn: a part that ends on a damaged line is refused."""
    path = tmp_path / "history.jsonl"
    write_jsonl(path, _history(6, 20))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[9] = lines[9][:30] + b"\n"
    path.write_bytes(b"".join(lines))
    end = sum(len(line) for line in lines[:10])
    with pytest.raises(UsageError, match="line 10 is not a history op"):
        list(scan_ops(path, span=(0, end, 1)))
    counts: JsonlRows[Any] = JsonlRows()
    rows = list(scan_ops(path, span=(end, None, 11), counts=counts))
    assert [number for number, _, _ in rows] == list(range(11, 21))
    assert counts.torn_lines == 0


def test_a_damaged_line_in_a_later_part_is_named_by_its_line_in_the_file(
        tmp_path: Path) -> None:
    """A later part numbers its rows by its place, not by counting the lines before it; a
    damaged line there is still refused with its line number counted from the file's start."""
    path = tmp_path / "history.jsonl"
    write_jsonl(path, _history(7, 30))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[21] = b'{"index": oops}\n'
    path.write_bytes(b"".join(lines))
    start = sum(len(line) for line in lines[:12])
    with pytest.raises(UsageError, match=r"history\.jsonl line 22 is not a history op"):
        route_history_part(Partitions(2), Spill(2, (HISTORY,)), path, start, None,
                           3)


def test_an_unreadable_history_is_one_part_and_a_later_part_says_so(tmp_path: Path) -> None:
    """No history to cut: one part, for the first part's reading to name the problem; a
    later part that cannot read it says so in the same words, not with a traceback."""
    missing = tmp_path / "history.jsonl"
    assert spans(missing, 2) == [(0, None)]
    with pytest.raises(UsageError, match=r"Cannot read the history file .*history\.jsonl"):
        route_history_part(Partitions(2), Spill(2, (HISTORY,)), missing, 10, None,
                           1)


@settings(max_examples=200)
@given(ends=st.lists(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"]), min_size=1, max_size=12),
       block=st.integers(min_value=1, max_value=12))
def test_lines_before_a_start_count_as_a_text_reader_or_refuse_a_lone_cr(
        tmp_path_factory: pytest.TempPathFactory, ends: list[bytes], block: int) -> None:
    """Whatever the block size (a \\r\\n cut between two blocks included): the lines before
    each line start, or LoneCarriageReturn when a lone \\r is among them."""
    data = b"".join(b'{"n":%d}' % n + end for n, end in enumerate(ends))
    path = tmp_path_factory.mktemp("before") / "history.jsonl"
    path.write_bytes(data)
    with patch("harness.checkers.split._BLOCK", block):
        for start in (i + 1 for i, byte in enumerate(data) if byte == ord("\n")):
            head = data[:start]
            if head.count(b"\r") != head.count(b"\r\n"):
                with pytest.raises(LoneCarriageReturn):
                    lines_before(path, start)
            else:
                assert lines_before(path, start) == head.count(b"\n")
