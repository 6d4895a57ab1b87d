"""Pair history events into operations (invoke → ok/fail/info) and place them on the wall clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from harness.history import OP_TYPES, Op, OpType
from harness.history import pair_operations as history_pairing

OUTCOMES = ("ok", "fail", "info")


@dataclass
class Operation:
    """One client action: its invoke, its completion (None if never recorded) and its outcome."""

    index: int
    end_index: int | None
    process: str
    f: str
    payment_id: str | None
    start: float  # seconds since the run started (history `time`)
    end: float | None
    start_wall: float  # epoch seconds, comparable with the ledger's `time`
    end_wall: float | None
    outcome: str  # ok, fail, info, or "open" when no completion was recorded
    error: dict[str, Any] | None
    value: Any
    idempotency_key: str | None

    @property
    def latency_s(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - self.start)


def wall_origin(history: list[dict[str, Any]]) -> float | None:
    """The epoch time at which the run's monotonic clock read zero, from the first event."""
    for event in history:
        wall, time = event.get("wall"), event.get("time")
        if _epoch(wall) and _num(time):
            return float(wall) - float(time)
    return None


def pair_operations(history: list[dict[str, Any]]) -> list[Operation]:
    """Pair the run's raw events by harness.history's rule, then place them on the wall clock."""
    origin = wall_origin(history) or 0.0
    handles = [op for op in (_handle(e, i) for i, e in enumerate(history)) if op is not None]
    ops = [
        _make(
            history[pair.invoke.index],
            pair.invoke.index,
            history[pair.completion.index] if pair.completion is not None else None,
            origin,
        )
        for pair in history_pairing(handles).operations
    ]
    ops.sort(key=lambda op: op.index)
    return ops


def _handle(event: dict[str, Any], position: int) -> Op | None:
    """The pairing-relevant part of a raw event, indexed by its position in the list.

    The report reads files the run may have left torn or hand-edited, so instead of
    Op.from_dict (which refuses such events) it fills gaps with defaults; the position
    as index lets each pair point back to its raw events, whose every field is kept.
    """
    kind = event.get("type")
    if kind not in OP_TYPES:
        return None
    return Op(
        index=position,
        time=0.0,
        wall=0.0,
        process=str(event.get("process", "?")),
        type=cast(OpType, kind),
        f=str(event.get("f", "?")),
    )


def _make(
    event: dict[str, Any], position: int, done: dict[str, Any] | None, origin: float
) -> Operation:
    start = _time(event)
    end = _time(done) if done is not None else None
    value = done.get("value") if done is not None else None
    error = done.get("error") if done is not None else None
    payment_id = event.get("payment_id") or (done or {}).get("payment_id")
    if payment_id is None and isinstance(value, dict) and event.get("f") == "create":
        payment_id = value.get("id")
    index = event.get("index")
    return Operation(
        index=index if isinstance(index, int) else position,
        end_index=_index(done),
        process=str(event.get("process", "?")),
        f=str(event.get("f", "?")),
        payment_id=str(payment_id) if payment_id is not None else None,
        start=start,
        end=end,
        start_wall=_wall(event, origin),
        end_wall=_wall(done, origin) if done is not None else None,
        outcome=str(done.get("type")) if done is not None else "open",
        error=error if isinstance(error, dict) else None,
        value=value,
        idempotency_key=event.get("idempotency_key"),
    )


def _index(event: dict[str, Any] | None) -> int | None:
    index = event.get("index") if event is not None else None
    return index if isinstance(index, int) else None


def _num(x: Any) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _time(event: dict[str, Any]) -> float:
    t = event.get("time")
    return float(t) if _num(t) else 0.0


def _epoch(x: Any) -> TypeGuard[float]:
    """A plausible epoch time; a loader's default of 0.0 for a missing `wall` is not one."""
    return _num(x) and x > 1e8


def _wall(event: dict[str, Any], origin: float) -> float:
    wall = event.get("wall")
    return float(wall) if _epoch(wall) else origin + _time(event)


# Error kinds that only say "the HTTP status was bad": the status itself is the better label.
_GENERIC_KINDS = frozenset({"http", "status", "http_error", "server_error", "5xx", "4xx"})


def error_label(error: dict[str, Any] | None) -> str:
    """A short name for an info/fail cause: timeout, reset, 503, … (what fits on a bar)."""
    if not error:
        return ""
    kind = str(error.get("kind") or "")
    status = error.get("status")
    if _num(status) and (not kind or kind in _GENERIC_KINDS):
        return str(status)
    if kind:
        return f"{kind} {status}" if _num(status) else kind
    return str(error.get("message") or "error")[:24]
