"""The ledger and the DB view routed in a second process while this one routes the history.

The two passes share nothing but the partition of a payment id (`Partitions.of`, the same in
every process) and the links they make. The side process writes its chunks to this
process's Spill file (an unnamed temporary file whose descriptor it inherits, so nothing is
left on disk whoever dies), then sends where they are, its links and the ledger's first wall
time, or the error that stopped it: a damaged ledger line is refused with the message the
in-process pass gives.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from harness.checkers.pool import start_worker
from harness.checkers.routing import DB, LEDGER, Partitions, route_ledger
from harness.checkers.spill import Spill
from harness.gc_pause import gc_paused


@dataclass
class SidePass:
    """The side process at work; `result()` waits for it and takes what it routed."""

    partitions: Partitions
    spill: Spill
    process: BaseProcess
    answers: Connection

    def result(self) -> float | None:
        """The ledger's first wall time, once its chunks and links are this process's.
        Raises what stopped the side process."""
        try:
            message: tuple[Any, ...] = self.answers.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError("The process routing the ledger ended without an answer "
                               f"(exit code {self.process.exitcode})") from None
        if message[0] == "error":
            raise message[1]
        _, roots, index, origin = message
        self.partitions.adopt(roots)
        self.spill.take(index)
        return float(origin) if origin is not None else None


@contextmanager
def side_pass(ledger: Path, db: Path | None, partitions: Partitions,
              spill: Spill) -> Iterator[SidePass]:
    """Route the ledger and DB view into `spill` from a spawned process; stopped on exit."""
    context = multiprocessing.get_context("spawn")
    answers, sending = context.Pipe(duplex=False)
    # DupFd: the spawned process inherits the descriptor (how multiprocessing passes pipes).
    process = context.Process(
        target=_side,
        args=(ledger, db, partitions.count, reduction.DupFd(spill.fileno()), sending,
              os.getpid()),
        name="payrace-route-ledger", daemon=True)
    process.start()
    sending.close()  # the child holds the only sending end: its death is an EOF here
    try:
        yield SidePass(partitions, spill, process, answers)
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        answers.close()


def _side(ledger: Path, db: Path | None, count: int, file: Any, answers: Connection,
          parent: int) -> None:
    """The side process: route onto the shared file, then answer with the index and links."""
    start_worker(parent)
    partitions = Partitions(count)
    spill = Spill(count, (LEDGER, DB), (LEDGER,), file=os.fdopen(file.detach(), "r+b"))
    try:
        with gc_paused():
            origin = route_ledger(ledger, db, partitions, spill)
        spill.flush()
        answers.send(("done", partitions.roots(), spill.index, origin))
    except Exception as exc:  # any error is the parent's to raise
        try:
            answers.send(("error", exc))
        except Exception:  # an error that does not pickle: its words
            answers.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        spill.close()
        answers.close()


__all__ = ["SidePass", "side_pass"]
