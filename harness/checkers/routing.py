"""Which partition each op, ledger entry and DB row goes to, so one payment is judged whole.

A payment's evidence is keyed by its id: its ops, its ledger entries and its DB row go to
the partition its id hashes to. What the checkers relate across payment ids links the two
partitions, and linked partitions are judged together as one group:
- an op and the completion paired with it (docs/CONTRACTS.md: the next completion of the
  same process), whatever their payment ids say; an invoke without a payment id (a create)
  waits for its completion and goes where that goes;
- an orphan completion and the op before it in its process, so that pairing inside a group
  leaves it an orphan exactly as pairing the whole history does;
- money charges sharing an id, a latest_charge or a dedup key, a refund and its charge,
  a DB row and the charge its charge_id names.
Anything with no payment id, or an id that cannot be hashed, goes to partition 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zlib import crc32

import msgspec

from harness.checkers.evidence import not_a_row, read_db_lines
from harness.checkers.spill import Spill
from harness.history import Op, clock_origin
from harness.jsonl import load_document, scan_jsonl

HISTORY, LEDGER, DB = "history", "ledger", "db"
KINDS = (HISTORY, LEDGER, DB)


class Partitions:
    """K partitions by payment id, and which of them are linked (a union-find over K)."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"Expected at least one partition, got count={count}")
        self.count = count
        self._parent = list(range(count))

    def of(self, key: Any) -> int:
        """The partition of a payment id, the same in every process: the ledger may be routed
        in another process than the history (harness.checkers.side), and a string's hash()
        differs between processes, so a string goes by its CRC-32."""
        if key is None or self.count == 1:
            return 0
        if type(key) is str:
            try:
                return crc32(key.encode()) % self.count
            except UnicodeEncodeError:  # a lone surrogate (JSON allows one): its bytes anyway
                return crc32(key.encode("utf-8", "surrogatepass")) % self.count
        try:  # a number or a bool (JSON's other scalars): hash() is the same everywhere
            return hash(key) % self.count
        except TypeError:  # a list as an id: the checkers will refuse it, in partition 0
            return 0

    def link(self, a: int, b: int) -> None:
        a, b = self._root(a), self._root(b)
        if a != b:
            self._parent[max(a, b)] = min(a, b)

    def _root(self, p: int) -> int:
        while self._parent[p] != p:
            self._parent[p] = self._parent[self._parent[p]]
            p = self._parent[p]
        return p

    def roots(self) -> list[int]:
        """Each partition's representative: what `adopt` needs to repeat these links."""
        return [self._root(p) for p in range(self.count)]

    def adopt(self, roots: list[int]) -> None:
        """Add the links another Partitions of the same count made (its `roots()`)."""
        for p, root in enumerate(roots):
            self.link(p, root)

    def groups(self) -> list[list[int]]:
        """Linked partitions together, each group in order of its lowest partition."""
        out: dict[int, list[int]] = {}
        for p in range(self.count):
            out.setdefault(self._root(p), []).append(p)
        return list(out.values())


# A history op or ledger entry as routed: (its line number, the line).
Line = tuple[int, bytes]
# Per process: (last op was an invoke, its f, its partition, the invoke still waiting for
# its completion to say where it goes, or None).
_Last = tuple[bool, str, int, Line | None]


# The partition of a later part's first op of a process when that op is a completion: where
# it goes depends on the ops before the part, so the router of the first part places it.
HEAD = -1


@dataclass
class RoutedPart:
    """What a later part of the history leaves to the router of the parts before it
    (`HistoryRouter.join`): per process, its first op there when that is a completion (with
    the partitions to link to wherever it goes), whether its first op there is an invoke, and
    its state at the end of the part."""

    heads: dict[str, tuple[int, bytes, Op]]
    head_links: list[tuple[str, int]]
    fresh: set[str]
    tails: dict[str, _Last]
    origin: float | None
    started: bool  # it routed an op: `origin` is its first op's (None: that op had no wall)


class HistoryRouter:
    """Routes ops in history order; `finish()` places invokes still waiting at the end.

    The history may be routed in parts by several routers (harness.checkers.split): the
    router of a later part (`after=True`) routes every op whose place it can tell alone and
    hands the rest to the first part's router as a RoutedPart (`part()`), which `join`s the
    parts in file order. The result is the one pass's, op for op and link for link.
    """

    def __init__(self, partitions: Partitions, spill: Spill, *, after: bool = False) -> None:
        self._parts = partitions
        self._spill = spill
        self._last: dict[str, _Last] = {}
        self._after = after
        self._heads: dict[str, tuple[int, bytes, Op]] = {}
        self._head_links: list[tuple[str, int]] = []
        self._fresh: set[str] = set()
        self.origin: float | None = None  # the first op's clock_origin: the run's t=0
        self.started = False  # an op was routed (origin is then the first op's, or None)

    def route(self, number: int, line: bytes, op: Op) -> None:
        process, op_type, f, pid = op.process, op.type, op.f, op.payment_id
        if not self.started:
            self.started, self.origin = True, clock_origin(op)
        parts, add, row = self._parts, self._spill.add, (number, line)
        prev = self._last.get(process)
        if prev is None and self._after:  # the process's first op in a later part
            if op_type != "invoke":
                self._heads[process] = (number, line, op)
                self._last[process] = (False, f, HEAD, None)
                return
            self._fresh.add(process)
        if op_type == "invoke":
            if prev is not None and prev[3] is not None:  # never completed: in no payment's index
                add(0, HISTORY, *prev[3])
            if pid is None:
                self._last[process] = (True, f, 0, row)
            else:
                p = parts.of(pid)
                add(p, HISTORY, number, line)
                self._last[process] = (True, f, p, None)
            return
        if prev is not None and prev[0] and prev[1] == f:  # the completion of prev
            if prev[3] is not None:
                p = parts.of(pid)
                add(p, HISTORY, *prev[3])
            else:
                p = prev[2]
                if pid is not None and (q := parts.of(pid)) != p:  # the common case: no link
                    parts.link(p, q)
        else:  # an orphan: keep the op before it in its process beside it
            p = parts.of(pid)
            if prev is not None:
                if prev[3] is not None:
                    add(p, HISTORY, *prev[3])
                elif prev[2] == HEAD:
                    self._head_links.append((process, p))
                else:
                    parts.link(p, prev[2])
        add(p, HISTORY, number, line)
        self._last[process] = (False, f, p, None)

    def part(self) -> RoutedPart:
        """A later part's router, at the end of its part: what the first part's router needs."""
        return RoutedPart(self._heads, self._head_links, self._fresh, self._last, self.origin,
                          self.started)

    def join(self, part: RoutedPart) -> None:
        """Route the next part's leftovers as if its ops had followed this router's own (its
        Partitions has adopted that part's links); then continue from where it ended."""
        placed: dict[str, int] = {}
        started, origin = self.started, self.origin  # the first op of the file, not a head's
        for process, (number, line, op) in part.heads.items():
            self.route(number, line, op)
            placed[process] = self._last[process][2]
        for process, p in part.head_links:
            self._parts.link(p, placed[process])
        for process in part.fresh:  # an invoke followed: the one waiting never completed
            prev = self._last.get(process)
            if prev is not None and prev[3] is not None:
                self._spill.add(0, HISTORY, *prev[3])
        for process, (invoke, f, p, waiting) in part.tails.items():
            self._last[process] = (invoke, f, placed[process] if p == HEAD else p, waiting)
        self.started, self.origin = (True, origin) if started else (part.started, part.origin)

    def finish(self) -> None:
        for _, _, _, waiting in self._last.values():
            if waiting is not None:
                self._spill.add(0, HISTORY, *waiting)
        self._last.clear()


class LedgerFacts(msgspec.Struct, gc=False):
    """What routing reads of a ledger entry, each field as `entry.get(name, default)` reads
    it (`wall` UNSET when the key is missing). Any JSON object decodes straight to one in C,
    its other keys skipped unbuilt: about half the time of building the entry's dict and
    asking it, which the judging process does anyway. `from_entry` makes one from a dict."""

    kind: Any = None
    payment_id: Any = None
    id: Any = None
    latest_charge: Any = None
    charge: Any = None
    seq: Any = None
    status: Any = "succeeded"
    replayed: Any = False
    wall: Any = msgspec.UNSET
    time: Any = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> LedgerFacts:
        """The facts of an entry parsed the general way (a line msgspec's decoder refused)."""
        return cls(**{name: entry[name] for name in cls.__struct_fields__ if name in entry})

    @property
    def wall_time(self) -> Any:
        """`entry.get("wall", entry.get("time"))`: when the entry happened, as written."""
        return self.time if self.wall is msgspec.UNSET else self.wall

    @property
    def is_money_charge(self) -> bool:
        """harness.ledger.is_money_charge of the entry."""
        return self.kind == "charge" and self.status == "succeeded" and not self.replayed


# Reads a ledger line to its LedgerFacts when it is a JSON object msgspec takes (ValueError
# otherwise: scan_jsonl then reads it the general way and `from_entry` converts it).
_decode_facts = msgspec.json.Decoder(LedgerFacts).decode


class LedgerRouter:
    """Routes ledger entries in order; remembers where each money charge went, for links."""

    def __init__(self, partitions: Partitions, spill: Spill) -> None:
        self._parts = partitions
        self._spill = spill
        # Every key a checker finds a money charge by (its dedup key, id, latest_charge,
        # charge) → the partition of the first charge with it.
        self.charge_keys: dict[Any, int] = {}
        self._refunds: list[tuple[int, bytes, LedgerFacts]] = []  # of a charge not seen yet
        self.origin: float | None = None  # the first entry's wall time, for a run without ops

    def route(self, number: int, line: bytes, entry: LedgerFacts) -> None:
        parts = self._parts
        p = parts.of(entry.payment_id)
        if self.origin is None:
            wall = entry.wall_time
            if isinstance(wall, int | float):
                self.origin = float(wall)
        kind = entry.kind
        if kind == "charge" and entry.is_money_charge:
            charge_id = entry.id
            if not charge_id:  # found by refunds of "no charge id": those live in partition 0
                parts.link(p, 0)
            keys = [charge_id or ("seq", entry.seq)]
            keys += [key for key in (charge_id, entry.latest_charge, entry.charge)
                     if isinstance(key, str)]
            for key in keys:
                try:
                    first = self.charge_keys.setdefault(key, p)
                except TypeError:
                    continue
                if first != p:
                    parts.link(p, first)
        elif kind == "refund":
            charge = entry.charge
            if not charge:
                p = 0
            else:
                try:
                    known = self.charge_keys.get(charge)
                except TypeError:
                    known = 0
                if known is None:
                    self._refunds.append((number, line, entry))
                    return
                p = known
        self._spill.add(p, LEDGER, number, line)

    def finish(self) -> None:
        """Refunds listed before their charge go where it went (or stay by payment id)."""
        for number, line, entry in self._refunds:
            known = self.charge_keys.get(entry.charge)
            p = known if known is not None else self._parts.of(entry.payment_id)
            self._spill.add(p, LEDGER, number, line)
        self._refunds.clear()


class _RowKeys(msgspec.Struct, gc=False):
    """What routing reads of a DB row: `row.get("id")`, `row.get("charge_id")`."""

    id: Any = None
    charge_id: Any = None


_decode_row_keys = msgspec.json.Decoder(_RowKeys).decode


def _row_keys(db: Path, position: int, line: Any) -> _RowKeys:
    """The keys of DB row `position`'s line (evidence.read_db_lines); UsageError when the row
    is not an object. A line msgspec refuses (json wrote it: NaN) is read as the judge will."""
    try:
        return _decode_row_keys(line)
    except (ValueError, RecursionError):  # not an object, or not msgspec's to read
        row = load_document(bytes(line))
        if type(row) is not dict:
            raise not_a_row(db, position, row) from None
        return _RowKeys(row.get("id"), row.get("charge_id"))


def route_db(db: Path, lines: list[Any], partitions: Partitions, spill: Spill,
             charge_keys: dict[Any, int]) -> None:
    """Each row of the DB view `db` (a line of read_db_lines) goes by its id, linked to the
    partition of the charge its charge_id names; a row that is not an object is refused."""
    for position, line in enumerate(lines):
        keys = _row_keys(db, position, line)
        p = partitions.of(keys.id)
        try:
            linked = charge_keys.get(keys.charge_id)
        except TypeError:
            linked = None
        if linked is not None and linked != p:
            partitions.link(p, linked)
        spill.add(p, DB, position, line)


def route_ledger(ledger: Path, db: Path | None, partitions: Partitions, spill: Spill,
                 ) -> float | None:
    """The ledger's and the DB view's pass, into `spill`: the first ledger entry's wall time."""
    router = LedgerRouter(partitions, spill)
    for number, line, entry in scan_jsonl(ledger, "ledger entry", LedgerFacts.from_entry,
                                          decode=_decode_facts):
        router.route(number, line, entry)
    router.finish()
    rows = read_db_lines(db) if db is not None else None
    if db is not None and rows is not None:
        route_db(db, rows, partitions, spill, router.charge_keys)
        del rows
    router.charge_keys.clear()  # links are made; the map is the pass's largest object
    return router.origin


__all__ = ["DB", "HEAD", "HISTORY", "KINDS", "LEDGER", "HistoryRouter", "LedgerFacts",
           "LedgerRouter", "Partitions", "RoutedPart", "route_db", "route_ledger"]
