"""History ops (docs/CONTRACTS.md): pairing invokes with completions, merging files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, cast

import msgspec

from harness.jsonl import BLANK, JsonlRows, parse_line, read_chunk, scan_jsonl

OpType = Literal["invoke", "ok", "fail", "info"]
Outcome = Literal["ok", "fail", "info"]

OP_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
COMPLETION_TYPES: frozenset[str] = frozenset({"ok", "fail", "info"})
FUNCTIONS: frozenset[str] = frozenset({"create", "charge", "read", "reconcile"})


class Op(msgspec.Struct, frozen=True, gc=False):
    """One event of the history: an `invoke`, or the `ok`/`fail`/`info` that completes it.

    A frozen msgspec Struct: built in C from a history line (`read_op`) about four times
    faster than parsing the line to a dict and building the op from it, which is what
    judging ten million ops is made of. `gc=False`: an op holds only JSON values, never a
    cycle. The field types are what `read_op` takes on its fast path; `Op(...)` itself checks
    nothing, as a dataclass's constructor did not.
    """

    index: Annotated[int, msgspec.Meta(ge=0)]
    time: float
    wall: float
    process: str
    type: OpType
    f: str
    payment_id: str | None = None
    idempotency_key: str | None = None
    value: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The op as one JSON-ready dict with the contract's keys, in the contract's order."""
        return {
            "index": self.index,
            "time": self.time,
            "wall": self.wall,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "payment_id": self.payment_id,
            "idempotency_key": self.idempotency_key,
            "value": self.value,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Op:
        """Build an op from its dict; raises ValueError naming the first field that is wrong."""
        return cls(*op_fields(data))


OpFields = tuple[int, float, float, str, OpType, str, Any, Any, "dict[str, Any] | None",
                 "dict[str, Any] | None"]

# Decodes a line straight into an Op when every field has the type the contract names and
# `wall` is present: the common case, in C. Anything else is not an error here but goes the
# general way (`read_op`), which is the one rule. Raises msgspec.DecodeError, a ValueError.
_OP_DECODER = msgspec.json.Decoder(Op)
decode_op = _OP_DECODER.decode


def read_op(line: bytes) -> Op:
    """The op of one history line, exactly `Op.from_dict(parse_line(line))` (ValueError or
    TypeError for a damaged line or a wrong field), in a quarter of its time for a line
    whose fields all have their contract types.

    Both ways parse JSON with msgspec's parser, so where the fast way takes a line the values
    are the ones the general way would read; tests/unit/test_history_read_op.py holds the two
    equal over generated lines and the edge cases (duplicate keys, huge numbers, NaN).
    """
    try:
        return decode_op(line)
    except (msgspec.DecodeError, RecursionError):  # an ill-typed field, no wall, damage
        pass
    data = parse_line(line)
    if data is BLANK:
        raise ValueError("a blank line is not an op")
    return Op.from_dict(data)


def read_ops(lines: bytes) -> list[Op]:
    """The ops of `lines` (see harness.jsonl.read_chunk), each as `read_op` reads it."""
    return read_chunk(lines, _OP_DECODER.decode_lines, read_op)


def scan_ops(path: Path, *, counts: JsonlRows[Any] | None = None,
             span: tuple[int, int | None, int] | None = None,
             ) -> Iterator[tuple[int, bytes, Op]]:
    """harness.jsonl.scan_jsonl of a history file: (line number, line, its Op) for each op,
    each read as `read_op` reads it, under the torn-line rule."""
    return scan_jsonl(path, "history op", Op.from_dict, counts=counts, span=span,
                      decode=decode_op)


def op_fields(data: Mapping[str, Any]) -> OpFields:
    """An op's fields from its dict, in `Op`'s order, checked as `Op.from_dict` checks them.

    A plain tuple: a ten-million-op history is routed and stored as these before any `Op`
    exists, and the common case (every field present and of its type) takes one branch.
    """
    try:
        index, time, process, op_type, f = (
            data["index"], data["time"], data["process"], data["type"], data["f"])
    except KeyError:
        missing = [name for name in ("index", "time", "process", "type", "f") if name not in data]
        raise ValueError(f"missing field(s) {', '.join(missing)}") from None
    if op_type not in OP_TYPES:
        raise ValueError(f"type={op_type!r}, expected one of invoke, ok, fail, info")
    if type(index) is not int and (not isinstance(index, int) or isinstance(index, bool)):
        raise ValueError(f"index={index!r}, expected an integer >= 0")
    if index < 0:
        raise ValueError(f"index={index!r}, expected an integer >= 0")
    value, error = data.get("value"), data.get("error")
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"value={value!r}, expected an object or null")
    if error is not None and not isinstance(error, dict):
        raise ValueError(f"error={error!r}, expected an object or null")
    return (
        index,
        float(time),
        float(data.get("wall", 0.0)),
        str(process),
        op_type,  # one of OP_TYPES (no cast(): a call per op of a ten-million-op history)
        str(f),
        data.get("payment_id"),
        data.get("idempotency_key"),
        value,
        error,
    )


# Below this a `wall` is not an epoch time: a writer that leaves `wall` out (0.0 when read).
EPOCH_MIN = 1e8  # 1973-03-03


def clock_origin(op: Op) -> float | None:
    """The wall time at which the history's clock read zero, from `op` (the history's first):
    `wall - time`. None when the op has no real `wall` (a writer may leave it out): the
    history's times then cannot be set beside the ledger's, and no one should pretend to."""
    return op.wall - op.time if op.wall > EPOCH_MIN else None


class Operation(NamedTuple):
    """An invoke paired with its completion; an invoke never completed counts as `info`.

    A NamedTuple rather than a dataclass: a million-op history builds half a million of
    these, and tuple construction is several times cheaper than a frozen dataclass's.
    """

    invoke: Op
    completion: Op | None

    @property
    def type(self) -> Outcome:
        """The outcome by the law: the completion's type, or `info` when it never completed."""
        if self.completion is None:
            return "info"
        return cast(Outcome, self.completion.type)

    @property
    def is_open(self) -> bool:
        """True when the history ended before this operation completed."""
        return self.completion is None

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def process(self) -> str:
        return self.invoke.process

    @property
    def payment_id(self) -> str | None:
        return self.invoke.payment_id

    @property
    def start(self) -> float:
        return self.invoke.time

    @property
    def end(self) -> float:
        """Completion time; an open operation may still be happening, so it never ends."""
        return self.completion.time if self.completion is not None else float("inf")

    def ops(self) -> list[Op]:
        """The invoke and, when there is one, its completion."""
        return [self.invoke] if self.completion is None else [self.invoke, self.completion]


class Pairing(NamedTuple):
    """Operations in invoke order, and completions that matched no open invoke (malformed)."""

    operations: list[Operation]
    orphans: list[Op]


def pair_operations(history: Iterable[Op]) -> Pairing:
    """Pair each invoke with the next completion from the same process, in one linear pass.

    A process runs one operation at a time (Jepsen's rule), so a second invoke from a
    process whose first never completed leaves the first open: it stays `info`.
    """
    invokes: list[Op] = []
    completions: list[Op | None] = []
    orphans: list[Op] = []
    slot_of: dict[str, int] = {}  # process -> position of its open invoke
    for op in history:
        if op.type == "invoke":
            slot_of[op.process] = len(invokes)
            invokes.append(op)
            completions.append(None)
            continue
        slot = slot_of.pop(op.process, None)
        if slot is None or invokes[slot].f != op.f:
            orphans.append(op)
            continue
        completions[slot] = op
    operations = list(map(Operation, invokes, completions))
    return Pairing(operations, orphans)


def merge_histories(histories: Iterable[Iterable[Op]]) -> list[Op]:
    """Merge histories recorded by separate processes into one, re-indexed in time order.

    Each file's monotonic times are shifted onto the earliest file's origin using the
    wall clock at each file's first op; process names must already be distinct.
    """
    shifted: list[tuple[float, int, int, Op]] = []
    origins: list[float] = []
    loaded = [list(h) for h in histories]
    for ops in loaded:
        if ops:
            origins.append(ops[0].wall - ops[0].time)
    base = min(origins, default=0.0)
    for file_no, ops in enumerate(loaded):
        if not ops:
            continue
        offset = (ops[0].wall - ops[0].time) - base
        for op in ops:
            shifted.append((op.time + offset, file_no, op.index, op))
    shifted.sort(key=lambda item: (item[0], item[1], item[2]))
    return [
        Op(
            i,
            t,
            op.wall,
            op.process,
            op.type,
            op.f,
            op.payment_id,
            op.idempotency_key,
            op.value,
            op.error,
        )
        for i, (t, _, _, op) in enumerate(shifted)
    ]
