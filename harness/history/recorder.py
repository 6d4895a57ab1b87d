"""A thread- and gevent-safe JSON Lines recorder that writes each op through, and its loader."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import UsageError
from harness.history.classify import Classified
from harness.history.ops import (
    COMPLETION_TYPES,
    FUNCTIONS,
    OP_TYPES,
    Op,
    OpType,
    Outcome,
    scan_ops,
)
from harness.jsonl import JsonlRows, encode_line_bytes


class HistoryRecorder:
    """Appends ops to a JSON Lines file, one line each, from many threads or greenlets.

    Each line goes to the OS in one unbuffered write (as a flush after it did), so a process
    killed at any moment leaves every op it recorded, the last line at worst torn.

    One lock orders index, time and the write, so file order = index order = time order.
    The lock is never held across anything that yields to gevent (a regular file write
    does not), so it is safe under Locust with or without monkey-patching.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        origin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        keep: bool = True,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._wall = wall_clock
        self._origin = clock() if origin is None else origin
        self._lock = threading.Lock()
        # Unbuffered bytes: one write() per op and nothing held back, with no text layer and
        # no flush on top (Locust records two ops per request; each costs it CPU).
        self._file = self.path.open("wb", buffering=0)
        self._next = 0
        self._keep = keep
        self._ops: list[Op] = []
        self._open: dict[str, Op] = {}

    @property
    def recorded(self) -> int:
        """How many ops are in the file so far (each written whole before this counts it)."""
        return self._next

    def record(
        self,
        process: str,
        type: OpType,
        f: str,
        *,
        payment_id: str | None = None,
        idempotency_key: str | None = None,
        value: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> Op:
        """Append one event; prefer `invoke` and `complete`, which keep processes honest."""
        if type not in OP_TYPES:
            raise ValueError(f"type={type!r}, expected one of invoke, ok, fail, info")
        if f not in FUNCTIONS:
            raise ValueError(f"f={f!r}, expected one of create, charge, read, reconcile")
        with self._lock:
            if self._file.closed:
                raise ValueError(f"HistoryRecorder({self.path}) is closed; record before close()")
            op = Op(
                self._next,
                self._clock() - self._origin,
                self._wall(),
                process,
                type,
                f,
                payment_id,
                idempotency_key,
                dict(value) if value is not None else None,
                dict(error) if error is not None else None,
            )
            line = encode_line_bytes(op.to_dict())
            while line:  # a regular file takes it whole; a short write (a signal) goes on
                line = line[self._file.write(line) or 0:]
            self._next += 1
            if self._keep:
                self._ops.append(op)
            if type == "invoke":
                self._open[process] = op
            else:
                self._open.pop(process, None)
            return op

    def invoke(
        self,
        process: str,
        f: str,
        *,
        payment_id: str | None = None,
        idempotency_key: str | None = None,
        value: Mapping[str, Any] | None = None,
    ) -> Op:
        """Record that `process` starts `f`; complete it later with `complete`."""
        return self.record(
            process,
            "invoke",
            f,
            payment_id=payment_id,
            idempotency_key=idempotency_key,
            value=value,
        )

    def complete(
        self,
        invoke: Op,
        type: Outcome,
        *,
        value: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> Op:
        """Record the ok / fail / info that ends `invoke`, from the same process."""
        if type not in COMPLETION_TYPES:
            raise ValueError(f"type={type!r}, expected one of ok, fail, info")
        if invoke.type != "invoke":
            raise ValueError(
                f"complete() needs the invoke op, got a {invoke.type!r} op (index {invoke.index})"
            )
        return self.record(
            invoke.process,
            type,
            invoke.f,
            payment_id=invoke.payment_id,
            idempotency_key=invoke.idempotency_key,
            value=value,
            error=error,
        )

    def complete_with(self, invoke: Op, outcome: Classified) -> Op:
        """Record a classified outcome (from classify_charge / classify_response)."""
        return self.complete(invoke, outcome.type, value=outcome.value, error=outcome.error)

    def ops(self) -> list[Op]:
        """A copy of every op recorded so far (empty when created with keep=False)."""
        with self._lock:
            return list(self._ops)

    def open_operations(self) -> list[Op]:
        """Invokes not yet completed: at the end of a run these count as `info`."""
        with self._lock:
            return sorted(self._open.values(), key=lambda op: op.index)

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> HistoryRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LoadedHistory(JsonlRows[Op]):
    """A loaded history: a plain list of ops that also says how many torn lines were dropped."""


def load_history(path: str | Path) -> LoadedHistory:
    """Read a history file back; a torn last line (the run died mid-write) is ignored and counted.

    Any other unreadable line is corruption, not a crash, and raises UsageError naming it
    (the torn-line rule of harness.jsonl). Streams the file, so a million-op history is never
    held twice.
    """
    source, history = Path(path), LoadedHistory()
    try:
        history.extend(op for _, _, op in scan_ops(source, counts=history))
    except OSError as exc:
        raise UsageError(f"Cannot read the history file {source}: {exc.strerror or exc}") from exc
    return history
