"""History ops (docs/CONTRACTS.md): pairing invokes with completions, merging files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, cast

OpType = Literal["invoke", "ok", "fail", "info"]
Outcome = Literal["ok", "fail", "info"]

OP_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
COMPLETION_TYPES: frozenset[str] = frozenset({"ok", "fail", "info"})
FUNCTIONS: frozenset[str] = frozenset({"create", "charge", "read", "reconcile"})


@dataclass(frozen=True, slots=True)
class Op:
    """One event of the history: an `invoke`, or the `ok`/`fail`/`info` that completes it."""

    index: int
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


class _OpBuilder:
    """Builds an `Op` five times faster than `Op(...)`, for histories of millions of ops.

    A frozen dataclass's __init__ sets each field through object.__setattr__ (about 1 µs an
    op); this class has the same slots, sets them plainly, then becomes an Op, which Python
    allows between classes of the same layout (and refuses loudly should Op's fields ever
    change without this class). The result is an ordinary, frozen Op.
    """

    # Op's fields in Op's order: the layouts must match for the class change below.
    __slots__ = ("index", "time", "wall", "process", "type", "f", "payment_id",  # noqa: RUF023
                 "idempotency_key", "value", "error")

    def __init__(self, index: int, time: float, wall: float, process: str, type: OpType,
                 f: str, payment_id: str | None = None, idempotency_key: str | None = None,
                 value: dict[str, Any] | None = None,
                 error: dict[str, Any] | None = None) -> None:
        self.index = index
        self.time = time
        self.wall = wall
        self.process = process
        self.type = type
        self.f = f
        self.payment_id = payment_id
        self.idempotency_key = idempotency_key
        self.value = value
        self.error = error
        self.__class__ = Op  # type: ignore[assignment]


# make_op(*fields) is an Op: what to build one with where millions are built.
make_op = cast("Callable[..., Op]", _OpBuilder)


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
