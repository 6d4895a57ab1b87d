"""The history routed in byte ranges by several processes at once, joined in file order.

Routing the history is one pass over every line; on a machine with several CPUs it is cut
into parts at line starts, the first routed by this process and each later one by a side
process (harness.checkers.side). A later part's router cannot tell where a process's first
op there goes when that op is a completion (it depends on the op before it, in an earlier
part); it hands those to the first router, which `join`s the parts in order
(harness.checkers.routing.HistoryRouter), so the partitions and links are the one pass's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from harness.checkers.routing import HistoryRouter, Partitions, RoutedPart
from harness.checkers.spill import Spill
from harness.errors import UsageError
from harness.history import scan_ops
from harness.jsonl import JsonlRows, LoneCarriageReturn

# Parts smaller than this are not worth a process (its start costs about a tenth of a second).
MIN_PART_BYTES = 32 << 20
_BLOCK = 16 << 20  # bytes read at a time when looking for line starts or counting lines
# A byte of ledger or DB view costs about this many bytes of history to route (measured at
# 10M ops, both routed at once as `payrace check` routes them: 16.9 against 15.7 ns a byte
# since the ledger is read into LedgerFacts and the DB view's rows are left as bytes;
# docs/PERFORMANCE.md). A wrong weight only makes one router wait for another at the join.
LEDGER_COST = 1.05

Span = tuple[int, int | None]  # (first byte, byte after the last; None: to the end)


def spans(path: Path, parts: int) -> list[Span]:
    """`path` cut into at most `parts` byte ranges of about equal size, each starting at a
    line's first byte; one range for a file too small to be worth cutting."""
    try:
        size = path.stat().st_size
    except OSError:  # one part: reading it whole says what is wrong (harness.checkers.scaled)
        return [(0, None)]
    parts = max(1, min(parts, size // MIN_PART_BYTES))
    return _cut(path, [size * k // parts for k in range(1, parts)])


def routing_spans(history: Path, aside: Iterable[Path | None], cpus: int,
                  ) -> tuple[list[Span], int | None]:
    """The history's ranges when `cpus` processes route the evidence, one of them the `aside`
    files (the ledger and DB view) first: a range for each of the others, of equal time
    with that one's, and the byte where the range left to that one once its files are
    routed starts (None: none is), so that every CPU ends together instead of one idling
    while the others finish. One range for a file too small to be worth cutting."""
    try:
        size = history.stat().st_size
        other = sum(p.stat().st_size for p in aside if p is not None and p.is_file())
    except OSError:
        return [(0, None)], None
    routers = cpus - 1
    if routers < 1:
        return [(0, None)], None
    each = (size + LEDGER_COST * other) / cpus
    if size - routers * each < MIN_PART_BYTES:  # the aside files take a CPU's share or more
        return spans(history, routers), None
    cut = _cut(history, [int(each * k) for k in range(1, routers + 1)])
    if len(cut) <= routers:  # a cut fell in the file's last line: no range is left over
        return cut, None
    return cut[:-1], cut[-1][0]


def _cut(path: Path, at: list[int]) -> list[Span]:
    """`path` cut at the first line start after each byte of `at` (ascending)."""
    starts = [0]
    try:
        with path.open("rb") as handle:
            for byte in at:
                start = _line_start(handle, byte)
                if start is not None and start > starts[-1]:
                    starts.append(start)
    except OSError:
        return [(0, None)]
    ends: list[int | None] = [*starts[1:], None]
    return list(zip(starts, ends, strict=True))


def _line_start(handle: BinaryIO, at: int) -> int | None:
    """The first line start after byte `at` (None: no line starts after it)."""
    handle.seek(at)
    while block := handle.read(1 << 16):
        newline = block.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        at += len(block)
    return None


def lines_before(path: Path, start: int) -> int:
    """How many lines end before byte `start` (a line start), as `scan_jsonl` numbers them;
    LoneCarriageReturn if a lone \\r is among them (it would number them otherwise)."""
    count, crs, crlfs, last = 0, 0, 0, b""
    with path.open("rb") as handle:
        left = start
        while left > 0 and (block := handle.read(min(_BLOCK, left))):
            left -= len(block)
            count += block.count(b"\n")
            if b"\r" in block:  # rare; a search for it costs a seventh of counting them
                crs += block.count(b"\r")
                crlfs += block.count(b"\r\n")
            crlfs += last == b"\r" and block[:1] == b"\n"
            last = block[-1:]
    if crs != crlfs:
        raise LoneCarriageReturn(f"{path} holds a lone \\r before byte {start}")
    return count


# A later part numbers its lines from `place * PLACE_STRIDE + 1`, not from the file's start:
# counting the lines before it meant reading the whole file up to there (two seconds of a
# ten-million-op history's tail). The numbers only order the rows, so a part's place among
# the parts does as well; a damaged line's message is numbered from the file's start.
PLACE_STRIDE = 1 << 40


def route_history_part(partitions: Partitions, spill: Spill, history: Path, start: int,
                       end: int | None, place: int) -> tuple[RoutedPart, int]:
    """Route the ops from byte `start` to `end` as a later part (a side process's pass), the
    `place`th part (1 for the first after the first router's): what the first part's router
    must join, and the torn lines at the end of the file."""
    counts: JsonlRows[object] = JsonlRows()
    router = HistoryRouter(partitions, spill, after=True)
    try:
        try:
            span = (start, end, place * PLACE_STRIDE + 1)
            for number, line, op in scan_ops(history, counts=counts, span=span):
                router.route(number, line, op)
        except UsageError:  # a damaged line: say which, counted from the file's start
            first = lines_before(history, start) + 1
            for _ in scan_ops(history, span=(start, end, first)):
                pass
            raise
    except OSError as exc:  # the first part's words for it (harness.checkers.scaled)
        raise UsageError(
            f"Cannot read the history file {history}: {exc.strerror or exc}") from exc
    return router.part(), counts.torn_lines


__all__ = ["LEDGER_COST", "MIN_PART_BYTES", "PLACE_STRIDE", "Span", "lines_before",
           "route_history_part", "routing_spans", "spans"]
