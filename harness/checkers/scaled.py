"""Judging evidence files of any size: route them into partitions, judge each, merge the results.

One streaming pass reads the ledger, the DB view and the history (harness.checkers.routing)
into partitions spilled to temporary files, the lines as they were read; each group of
linked partitions is then parsed into an `Evidence` and judged by the suite, and each
checker's `merge` makes the partitions' results the whole run's. Memory holds one group per
process, not the run. With two or more CPUs the ledger is routed by a side process while
this one routes the history (harness.checkers.side), and the groups are judged by spawned
workers (harness.checkers.pool). A suite holding a checker without a `merge` is judged in
one partition: the whole evidence, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from harness.checkers.judging import Group, PartEvidence, Settings, Tally, judge_group
from harness.checkers.merge import Merge, merge_results
from harness.checkers.pool import (
    MAX_WORKERS,
    importable,
    judging_pool,
    may_start_processes,
    usable_cpus,
)
from harness.checkers.registry import Suite
from harness.checkers.result import CheckResult
from harness.checkers.routing import (
    DB,
    HISTORY,
    LEDGER,
    HistoryRouter,
    Partitions,
    route_ledger,
)
from harness.checkers.side import side_pass, spawned
from harness.checkers.spill import Spill
from harness.checkers.split import Span, route_history_part, routing_spans
from harness.errors import UsageError
from harness.gc_pause import gc_paused
from harness.history import scan_ops
from harness.jsonl import JsonlRows, LoneCarriageReturn

# Evidence bytes (history + ledger) per partition: about 300,000 ops with their ledger, a few
# hundred megabytes once loaded as objects, whatever the size of the run.
PART_BYTES = 64 << 20
MAX_PARTITIONS = 1024


@dataclass
class Judged:
    """The suite's results over the files, and what reading them found."""

    results: list[CheckResult]
    torn_lines: int  # of the history: its last line was cut short
    has_db: bool
    partitions: int
    groups: int
    tallies: list[Any] = field(default_factory=list)  # `tally` of each group's evidence
    workers: int = 1  # processes that judged the groups (1: this one)


def partitions_for(*paths: Path | None) -> int:
    """How many partitions evidence files of this size need (1 for any run that fits easily)."""
    size = sum(p.stat().st_size for p in paths if p is not None and p.is_file())
    return max(1, min(MAX_PARTITIONS, -(-size // PART_BYTES)))


def workers_for(partitions: int, checkers: Suite, tally: Tally | None,
                wanted: int | None = None) -> int:
    """Processes to judge in: `wanted`, or one per usable CPU up to MAX_WORKERS, and at most
    one per partition; one (this process) when a checker or the tally cannot be imported by
    a worker, or when this process may not start any."""
    if (not may_start_processes() or not importable(tally)
            or not all(importable(fn) for fn, _ in checkers.values())):
        return 1
    return max(1, min(wanted or min(usable_cpus(), MAX_WORKERS), partitions))


def judge_files(
    history: Path,
    ledger: Path,
    db: Path | None,
    checkers: Suite,
    merges: Mapping[str, Merge | None],
    *,
    reconciled: bool = True,
    settled_how: str | None = None,
    partitions: int | None = None,
    tally: Tally | None = None,
    workers: int | None = None,
) -> Judged:
    """Judge history, ledger and DB files with `checkers`, partition by partition.

    `merges` says how each checker's partitions combine; one without forces one partition.
    Groups are judged in `workers` processes (`workers_for`); with two or more, the
    ledger and DB view are routed in another process while this one routes the history.
    A damaged line is refused as `read_jsonl` refuses it (UsageError naming file and line).
    """
    whole = any(merges.get(name) is None for name in checkers)
    count = 1 if whole else (partitions or partitions_for(history, ledger))
    workers = workers_for(count, checkers, tally, workers)
    settings = Settings(checkers, tally, reconciled, settled_how, None)
    # With a side process for the ledger, the history is cut for every CPU: one range for
    # each other routing process, and maybe a last one for the ledger's once it is done.
    cut = (routing_spans(history, (ledger, db), workers) if workers > 1
           else ([(0, None)], None))
    try:
        return _judge(history, ledger, db, settings, merges, count, workers, *cut)
    except LoneCarriageReturn:  # rare: a lone \r numbers lines its own way; read it whole
        return _judge(history, ledger, db, settings, merges, count, workers, [(0, None)], None)


def _judge(history: Path, ledger: Path, db: Path | None, settings: Settings,
           merges: Mapping[str, Merge | None], count: int, workers: int,
           history_spans: list[Span], tail: int | None) -> Judged:
    """judge_files with the history routed in `history_spans`, one process each, and from
    byte `tail` (if not None) to its end by the ledger's side process after the ledger."""
    checkers, tally = settings.checkers, settings.tally
    parts = Partitions(count)
    # The workers start (a fresh interpreter each) while this process routes the files.
    with gc_paused(), contextlib.ExitStack() as stack:
        rest = stack.enter_context(contextlib.closing(
            Spill(count, (LEDGER, DB) if tail is None else (LEDGER, DB, HISTORY))))
        ops = [stack.enter_context(contextlib.closing(Spill(count, (HISTORY,))))
               for _ in history_spans]
        # The spill files, where the workers read the chunks: the ledger's, then the history's.
        spills = (rest, *ops)
        files = tuple(spill.fileno() for spill in spills)
        pool = stack.enter_context(judging_pool(workers, files))
        origin, torn = _route(history, ledger, db, parts, (ops, rest), history_spans,
                              aside=workers > 1, tail=tail)
        for spill in spills:
            spill.flush()
        has_db = db is not None and db.is_file()
        settings = replace(settings, origin=origin)
        groups = parts.groups()
        holding = [n for n, spill in enumerate(spills) if HISTORY in spill.kinds]
        tasks = _groups(spills, holding, groups, has_db)
        judged: Iterator[tuple[list[CheckResult], Any]] = (
            (judge_group(settings, task, files) for task in tasks) if pool is None
            else pool.imap(partial(judge_group, settings), tasks))
        per_check: dict[str, list[CheckResult]] = {name: [] for name in checkers}
        tallies: list[Any] = []
        for results, tallied in judged:
            for result in results:
                per_check[result.checker].append(result)
            if tally is not None:
                tallies.append(tallied)
    results = [
        merge_results(name, merge, per_check[name]) if (merge := merges.get(name)) is not None
        else per_check[name][0]
        for name in checkers
    ]
    return Judged(results, torn, has_db, count, len(groups), tallies, workers)


def _groups(spills: tuple[Spill, ...], holding: list[int], groups: list[list[int]],
            has_db: bool) -> Iterator[Group]:
    """Each group's chunks: the ledger's spill first in `spills`; `holding`: those with ops."""
    rest = spills[0]
    for group in groups:
        yield Group([(n, spills[n].located(group, HISTORY)) for n in holding],
                    rest.located(group, LEDGER), rest.located(group, DB) if has_db else None)


def _route(history: Path, ledger: Path, db: Path | None, parts: Partitions,
           spills: tuple[list[Spill], Spill], history_spans: list[Span], *,
           aside: bool, tail: int | None) -> tuple[float | None, int]:
    """The one pass over the files: (the run's clock origin, torn history lines). `aside`: the
    ledger and DB view are routed by another process meanwhile (harness.checkers.side); the
    history's spans after the first by one process each (harness.checkers.split), into the
    Spill of the same place in `ops`; from byte `tail` (if not None) to the end by the
    ledger's process, into `rest` after the ledger."""
    ops, rest = spills
    with contextlib.ExitStack() as stack:
        # Each later part is numbered by its place after the first (harness.checkers.split).
        last = None if tail is None else (history, tail, len(history_spans))
        side = stack.enter_context(side_pass(ledger, db, parts, rest, last)) if aside else None
        later = [stack.enter_context(spawned(route_history_part, (history, *span, place), parts,
                                             spill, f"payrace-route-history-{place + 1}"))
                 for place, (span, spill) in enumerate(
                     zip(history_spans[1:], ops[1:], strict=True), 1)]
        ledger_origin = route_ledger(ledger, db, parts, rest) if side is None else None
        counts: JsonlRows[Any] = JsonlRows()
        router = HistoryRouter(parts, ops[0])
        end = history_spans[0][1]
        try:
            for number, line, op in scan_ops(history, counts=counts,
                                             span=None if end is None else (0, end, 1)):
                router.route(number, line, op)
        except OSError as exc:
            raise UsageError(
                f"Cannot read the history file {history}: {exc.strerror or exc}") from exc
        torn = counts.torn_lines
        for part in later:  # in file order: each continues where the one before ended
            routed, part_torn = part.result()
            router.join(routed)
            torn += part_torn
        if side is not None:
            ledger_origin, last = side.result()
            if last is not None:  # the history's last range
                router.join(last[0])
                torn += last[1]
        router.finish()
    origin = router.origin if router.started else ledger_origin
    return origin, torn


__all__ = ["MAX_PARTITIONS", "PART_BYTES", "Judged", "PartEvidence", "judge_files",
           "partitions_for", "workers_for"]
