"""Histories from several load processes merge into one: ordered, re-indexed, parts removed."""

from __future__ import annotations

from pathlib import Path

from harness.history import HistoryRecorder, load_history
from harness.runner.parts import merge_parts, part_path, part_paths
from harness.runner.progress import OpCounter, RateMeter, requests_per_second


def test_parts_merge_in_time_order_and_disappear(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    clock = iter([0.1, 0.4, 0.2, 0.3]).__next__
    a = HistoryRecorder(part_path(history, pid=1), origin=0.0, clock=clock)
    b = HistoryRecorder(part_path(history, pid=2), origin=0.0, clock=clock)
    first = a.invoke("1-u0", "create")          # t=0.1
    a.complete(first, "ok")                     # t=0.4
    second = b.invoke("2-u0", "create")         # t=0.2
    b.complete(second, "info")                  # t=0.3
    a.close()
    b.close()
    assert len(part_paths(history)) == 2
    assert merge_parts(history) == 4
    ops = load_history(history)
    assert [op.index for op in ops] == [0, 1, 2, 3]
    assert [op.process for op in ops] == ["1-u0", "2-u0", "2-u0", "1-u0"]
    assert part_paths(history) == []
    assert merge_parts(history) == 4, "merging again changes nothing"


def test_op_counter_counts_whole_lines_across_parts(tmp_path: Path) -> None:
    """Progress counts an invoke and its completion as one operation, torn lines not at all."""
    history = tmp_path / "history.jsonl"
    history.write_text('{"a":1}\n{"a":2}\n')
    part_path(history, pid=9).write_text('{"a":3}\n{"a":4}\n{"half')
    counter = OpCounter(history)
    assert counter.count() == 2
    with part_path(history, pid=9).open("a") as fh:
        fh.write('":1}\n{"b":1}\n')
    assert counter.count() == 3


def test_requests_per_second_from_the_growth_of_locusts_count(tmp_path: Path) -> None:
    csv = tmp_path / "locust_stats_history.csv"
    csv.write_text("Timestamp,User Count,Type,Name,Requests/s,Total Request Count\n"
                   "100,4,,Aggregated,0,50\n101,4,GET,/x,0,10\n102,4,,Aggregated,0,250\n")
    assert requests_per_second(csv) == 100.0
    assert requests_per_second(tmp_path / "missing.csv") is None


def test_rate_meter_reports_the_recent_rate() -> None:
    """The live rate is the growth of completed operations over the last seconds."""
    meter = RateMeter(window_s=2.0)
    assert meter.add(0.0, 0) is None
    assert meter.add(1.0, 100) == 100.0
    assert meter.add(2.0, 200) == 100.0
    assert meter.add(3.0, 500) == 200.0, "the first second fell out of the window"
