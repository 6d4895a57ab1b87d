"""Pair history events into operations (invoke → ok/fail/info) and place them on the wall clock."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeGuard

OUTCOMES = ("ok", "fail", "info")


@dataclass(slots=True)
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


def aligned_origin(history: list[dict[str, Any]], ledger: list[dict[str, Any]]) -> float | None:
    """For a history with no `wall` (a writer may leave it out): an approximate origin that
    puts the first ledger entry at the first operation's time, so that a timeline shows both
    on one scale; None without both. The caller says it is approximate."""
    times = [t for e in history if _num(t := e.get("time"))]
    walls = [w for e in ledger if _epoch(w := e.get("time"))]
    return min(walls) - min(times) if times and walls else None


def pair_operations(history: list[dict[str, Any]], origin: float | None = None,
                    ) -> list[Operation]:
    """Pair the run's raw events by harness.history's rule, then place them on the wall clock.

    The rule (harness.history.pair_operations: an invoke waits for the next completion of its
    process with its `f`) is applied to the raw events themselves, not to Op objects made
    for it: a report of a million-event run made two million of those. The report reads
    files the run may have left torn or hand-edited, so a missing process or f reads as
    "?" instead of refusing the event; tests/unit/test_report_operations.py holds the two
    pairings equal.
    """
    origin = origin if origin is not None else (wall_origin(history) or 0.0)
    invokes: list[int] = []  # positions of the invokes, in history order
    completions: list[int | None] = []  # the position of each one's completion
    open_at: dict[str, int] = {}  # process -> slot (in `invokes`) of its open invoke
    for position, event in enumerate(history):
        kind = event.get("type")
        if kind == "invoke":
            open_at[str(event.get("process", "?"))] = len(invokes)
            invokes.append(position)
            completions.append(None)
        elif kind in OUTCOMES:
            slot = open_at.pop(str(event.get("process", "?")), None)
            if slot is not None and (str(history[invokes[slot]].get("f", "?"))
                                     == str(event.get("f", "?"))):
                completions[slot] = position
    ops = [
        _make(history[at], at, history[done] if done is not None else None, origin)
        for at, done in zip(invokes, completions, strict=True)
    ]
    ops.sort(key=attrgetter("index"))
    return ops


def _make(
    event: dict[str, Any], position: int, done: dict[str, Any] | None, origin: float
) -> Operation:
    start = _time(event)
    if done is None:
        end = end_wall = value = error = None
        outcome = "open"
        payment_id = event.get("payment_id")
    else:
        end = _time(done)
        end_wall = _wall(done, origin)
        value = done.get("value")
        error = done.get("error")
        outcome = str(done.get("type"))
        payment_id = event.get("payment_id") or done.get("payment_id")
    if payment_id is None and type(value) is dict and event.get("f") == "create":
        payment_id = value.get("id")
    index = event.get("index")
    return Operation(
        index if type(index) is int else position,
        _index(done),
        str(event.get("process", "?")),
        str(event.get("f", "?")),
        str(payment_id) if payment_id is not None else None,
        start,
        end,
        _wall(event, origin),
        end_wall,
        outcome,
        error if type(error) is dict else None,
        value,
        event.get("idempotency_key"),
    )


def _index(event: dict[str, Any] | None) -> int | None:
    index = event.get("index") if event is not None else None
    return index if type(index) is int else None


# JSON's numbers as a decoder makes them; `type(x) in` (not isinstance) leaves bool out and
# is the cheaper test, made twice per event of a million-event run.
_NUMBERS = (int, float)


def _num(x: Any) -> TypeGuard[float]:
    return type(x) in _NUMBERS


def _time(event: dict[str, Any]) -> float:
    t: Any = event.get("time")
    return float(t) if type(t) in _NUMBERS else 0.0


def _epoch(x: Any) -> TypeGuard[float]:
    """A plausible epoch time; a loader's default of 0.0 for a missing `wall` is not one."""
    return type(x) in _NUMBERS and x > 1e8


def _wall(event: dict[str, Any], origin: float) -> float:
    wall: Any = event.get("wall")
    return float(wall) if type(wall) in _NUMBERS and wall > 1e8 else origin + _time(event)


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
