"""Routing passes run by other processes while this one routes the history, into its Spills.

The ledger and DB view are routed by one (`side_pass`), which may then route the history's
last part; with three or more CPUs the other later parts of the history by others
(harness.checkers.split). They share nothing but the partition of a payment id
(`Partitions.of`, the same in every process) and the links they make. A
side process writes its chunks to one of this process's Spill files (an unnamed temporary
file whose descriptor it inherits, so nothing is left on disk whoever dies), then sends
where they are, its links and what its pass returned, or the error that stopped it: a
damaged line is refused with the message the in-process pass gives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from harness.checkers.pool import Inherited, sigint_held, start_worker
from harness.checkers.routing import Partitions, RoutedPart, route_ledger
from harness.checkers.spill import Spill
from harness.checkers.split import route_history_part
from harness.gc_pause import gc_paused

# A pass: (its process's Partitions, its Spill, *args) -> what it returns (picklable).
Pass = Callable[..., Any]


@dataclass
class SidePass:
    """A side process at work; `result()` waits for it and takes what it routed."""

    partitions: Partitions
    spill: Spill
    process: BaseProcess
    answers: Connection

    def result(self) -> Any:
        """What the pass returned, once its chunks and links are this process's.
        Raises what stopped the side process."""
        try:
            message: tuple[Any, ...] = self.answers.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError(f"The process {self.process.name} ended without an answer "
                               f"(exit code {self.process.exitcode})") from None
        if message[0] == "error":
            raise message[1]
        _, roots, index, value = message
        self.partitions.adopt(roots)
        self.spill.take(index)
        return value


@contextmanager
def spawned(work: Pass, args: tuple[Any, ...], partitions: Partitions, spill: Spill,
            name: str) -> Iterator[SidePass]:
    """Run `work(partitions, spill, *args)` in a spawned process routing into `spill` (its
    kinds, onto its file); stopped on exit."""
    context = multiprocessing.get_context("spawn")
    answers, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_side,
        args=(work, args, partitions.count, tuple(spill.kinds), Inherited(spill.fileno()),
              sending, os.getpid()),
        name=name, daemon=True)
    with sigint_held():
        process.start()
    sending.close()  # the child holds the only sending end: its death is an EOF here
    try:
        yield SidePass(partitions, spill, process, answers)
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        answers.close()


def side_pass(ledger: Path, db: Path | None, partitions: Partitions, spill: Spill,
              history_tail: tuple[Path, int, int] | None = None,
              ) -> AbstractContextManager[SidePass]:
    """Route the ledger and DB view into `spill` from a spawned process, then the history
    from byte `history_tail[1]` to its end if given, as the `history_tail[2]`th later part
    (split.route_history_part); `result()` is (the ledger's first wall time, what that part
    returned or None)."""
    return spawned(_ledger_pass, (ledger, db, history_tail), partitions, spill,
                   "payrace-route-ledger")


def _ledger_pass(partitions: Partitions, spill: Spill, ledger: Path, db: Path | None,
                 history_tail: tuple[Path, int, int] | None,
                 ) -> tuple[float | None, tuple[RoutedPart, int] | None]:
    origin = route_ledger(ledger, db, partitions, spill)
    if history_tail is None:
        return origin, None
    history, start, place = history_tail
    return origin, route_history_part(partitions, spill, history, start, None, place)


def _side(work: Pass, args: tuple[Any, ...], count: int, kinds: Iterable[str], file: int,
          answers: Connection, parent: int) -> None:
    """The side process: route onto the shared file, then answer with the index and links."""
    start_worker(parent)
    partitions = Partitions(count)
    spill = Spill(count, kinds, file=os.fdopen(file, "r+b"))
    try:
        with gc_paused():
            value = work(partitions, spill, *args)
        spill.flush()
        answers.send(("done", partitions.roots(), spill.index, value))
    except Exception as exc:  # any error is the parent's to raise
        try:
            answers.send(("error", exc))
        except Exception:  # an error that does not pickle: its words
            answers.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        spill.close()
        answers.close()


__all__ = ["Pass", "SidePass", "side_pass", "spawned"]
