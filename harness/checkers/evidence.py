"""The evidence a checker reads: history, ledger, DB snapshot, and indexes built in linear time."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import msgspec

from harness.errors import UsageError
from harness.history import (
    Op,
    Operation,
    Pairing,
    clock_origin,
    load_history,
    pair_operations,
)
from harness.jsonl import DECODE, read_jsonl
from harness.ledger import LedgerEntry, is_money_charge, money_charges

DbRow = Mapping[str, Any]

# POST endpoints that can move money; retries to them must reuse one idempotency key.
CHARGE_PATHS = ("/v1/charges", "/v1/payment_intents")


def charge_endpoint(method: Any, path: Any) -> str | None:
    """The money-moving endpoint a request hit (all confirms as one), or None."""
    if method != "POST" or not isinstance(path, str):
        return None
    return _post_endpoint(path)


@lru_cache(maxsize=4096)  # a ledger repeats a handful of paths; a million entries ask again
def _post_endpoint(path: str) -> str | None:
    path = path.rstrip("/")
    if path in CHARGE_PATHS:
        return path
    parts = path.split("/")
    if len(parts) == 5 and parts[1:3] == ["v1", "payment_intents"] and parts[4] == "confirm":
        return "/v1/payment_intents/*/confirm"
    return None


@dataclass(frozen=True, eq=False)
class Evidence:
    """Everything a run produced that checkers judge; derived indexes are computed once, lazily.

    `reconciled` says the target was quiesced and settled (its reconciler ran, or payrace
    waited for it) before the DB view was taken, so a charge whose payment is still not
    completed is a loss, not work in progress; `settled_how` says how, in a verdict's words
    ("after …").
    """

    history: Sequence[Op] = field(default_factory=list)
    ledger: Sequence[LedgerEntry] = field(default_factory=list)
    db: Sequence[DbRow] | None = None
    reconciled: bool = False
    settled_how: str | None = None

    @cached_property
    def origin(self) -> float | None:
        """Wall time of the history's t=0: maps ledger wall times onto the history's clock.
        From the history's first op; None when it has no `wall` (harness.history.clock_origin):
        ledger times are then shown as unknown, not placed on a guessed clock."""
        if self.history:
            return clock_origin(self.history[0])
        for entry in self.ledger:
            wall = entry.get("wall", entry.get("time"))
            if isinstance(wall, int | float):
                return float(wall)
        return None

    def at(self, entry: LedgerEntry) -> float | None:
        """When a ledger entry happened, on the history's clock.

        Prefers the entry's `wall` (real time) over `time`: the stand-in's `time` follows
        its key clock, which a test may move a day forward to expire idempotency keys.
        """
        wall = entry.get("wall")
        return self.rel(wall if wall is not None else entry.get("time"))

    def rel(self, wall: Any) -> float | None:
        """A ledger wall time on the history's clock (seconds since the run started)."""
        if not isinstance(wall, int | float) or self.origin is None:
            return None
        return round(float(wall) - self.origin, 6)

    @cached_property
    def pairing(self) -> Pairing:
        return pair_operations(self.history)

    @cached_property
    def ops_by_payment(self) -> dict[str, list[Op]]:
        """Every op (invokes and completions) per payment id, in history order."""
        index: dict[str, list[Op]] = defaultdict(list)
        for op in self.history:
            if op.payment_id is not None:
                index[op.payment_id].append(op)
        return dict(index)

    @cached_property
    def charge_ops_by_payment(self) -> dict[str, list[Operation]]:
        """Paired `charge` operations per payment id, in invoke order."""
        index: dict[str, list[Operation]] = defaultdict(list)
        for operation in self.pairing.operations:
            if operation.invoke.f == "charge" and operation.invoke.payment_id is not None:
                index[operation.invoke.payment_id].append(operation)
        return dict(index)

    @cached_property
    def orphans_by_payment(self) -> dict[str, list[Op]]:
        """`charge` completions that matched no invoke: they still say how the charge ended."""
        index: dict[str, list[Op]] = defaultdict(list)
        for op in self.pairing.orphans:
            if op.f == "charge" and op.payment_id is not None:
                index[op.payment_id].append(op)
        return dict(index)

    @cached_property
    def history_payments(self) -> frozenset[str]:
        """Payment ids the history mentions at all (a set, cheaper than the full index)."""
        ids = {op.payment_id for op in self.history}
        ids.discard(None)
        return frozenset(i for i in ids if i is not None)

    @cached_property
    def charges(self) -> list[LedgerEntry]:
        """Money-moving charge entries, one per charge id, in ledger order."""
        return money_charges(self.ledger)

    @cached_property
    def charges_by_payment(self) -> dict[str, list[LedgerEntry]]:
        """Charges per `metadata.payment_id`; unattributed ones are in `unattributed_charges`."""
        index: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in self.charges:
            payment_id = entry.get("payment_id")
            if payment_id is not None:
                index[payment_id].append(entry)
        return dict(index)

    @cached_property
    def unattributed_charges(self) -> list[LedgerEntry]:
        """Charges made without `metadata.payment_id`: no checker can tell whose money they took."""
        return [entry for entry in self.charges if entry.get("payment_id") is None]

    @cached_property
    def charge_by_id(self) -> dict[Any, LedgerEntry]:
        """Charges by every id a service may have stored: the entry's id and its latest charge."""
        index: dict[Any, LedgerEntry] = {}
        for entry in self.charges:
            for key in ("id", "latest_charge", "charge"):
                value = entry.get(key)
                if isinstance(value, str) and value not in index:
                    index[value] = entry
        return index

    @cached_property
    def charge_requests(self) -> list[tuple[str, LedgerEntry]]:
        """(endpoint, entry) for every ledger request to a money-moving POST endpoint."""
        out: list[tuple[str, LedgerEntry]] = []
        for entry in self.ledger:
            if entry.get("kind") == "request":
                endpoint = charge_endpoint(entry.get("method"), entry.get("path"))
                if endpoint is not None:
                    out.append((endpoint, entry))
        return out

    @cached_property
    def refunds_by_charge(self) -> dict[Any, list[LedgerEntry]]:
        index: dict[Any, list[LedgerEntry]] = defaultdict(list)
        for entry in self.ledger:
            if entry.get("kind") == "refund":
                index[entry.get("charge")].append(entry)
        return dict(index)

    @cached_property
    def db_by_id(self) -> dict[Any, DbRow]:
        return {row.get("id"): row for row in self.db or ()}


def load_evidence(run_dir: str | Path, *, reconciled: bool = True) -> Evidence:
    """Read `history.jsonl`, `ledger.jsonl` and (when present) `db.json` from a run directory."""
    root = Path(run_dir)
    history_path, ledger_path, db_path = (
        root / "history.jsonl",
        root / "ledger.jsonl",
        root / "db.json",
    )
    for needed in (history_path, ledger_path):
        if not needed.is_file():
            raise UsageError(f"{root} is not a run directory: {needed.name} is missing")
    return Evidence(
        history=load_history(history_path),
        ledger=read_jsonl(ledger_path, "ledger entry"),
        db=read_db(db_path),
        reconciled=reconciled,
    )


def read_db(db_path: Path) -> list[Any] | None:
    """The rows of a `db.json` (a list, or `{"payments": [...]}`); None when there is none."""
    if not db_path.is_file():
        return None
    raw = db_path.read_bytes()
    try:  # the evidence lines' parser: it reads what json reads wherever it reads
        loaded = DECODE(raw)
    except (ValueError, RecursionError):
        try:  # the standard library's message, and its leniency (NaN, huge integers)
            loaded = json.loads(raw.decode("utf-8", "replace"))
        except ValueError as exc:
            raise UsageError(f"{db_path} is not JSON: {exc}") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("payments"), list):
        loaded = loaded["payments"]
    if not isinstance(loaded, list):
        raise UsageError(
            f"{db_path} must hold a list of payment rows, got {type(loaded).__name__}"
        )
    for position, row in enumerate(loaded):
        if not isinstance(row, dict):
            raise not_a_row(db_path, position, row)
    return loaded


def not_a_row(db_path: Path, position: int, row: Any) -> UsageError:
    """The one-line refusal of a DB view whose row `position` (from 0) is not an object."""
    shown = json.dumps(row)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return UsageError(f"{db_path}: row {position + 1} is {shown}, not a payment row; expected "
                      "a JSON object per row (id, status, charge_id, amount, currency)")


class _Wrapped(msgspec.Struct):
    """A db.json of the form {"payments": [...]} (its other keys unread)."""

    payments: list[msgspec.Raw] | None = None


# A db.json's rows, each left as its own bytes (never built): a list, or {"payments": [...]}.
_RAW_ROWS = msgspec.json.Decoder(list[msgspec.Raw] | _Wrapped).decode


def read_db_lines(db_path: Path) -> list[Any] | None:
    """The rows of a `db.json` as `read_db` reads them, each as one line of JSON without its
    newline (bytes, or a msgspec.Raw: a buffer of them), in order; None when there is none.

    A row is its own bytes, not parsed into a dict: the routing pass of a large check only
    sends rows on to their partition's judge, which parses them (`load_document` reads each
    to the value read_db gives). In a document msgspec takes, a newline or carriage return
    can only be whitespace between tokens (JSON strings hold them escaped): each becomes a
    space, and no row holds one.
    A document msgspec does not read whole (NaN, huge numbers) is read by read_db, errors and
    all, and its rows written back by json, which reads them back as they were."""
    if not db_path.is_file():
        return None
    raw = db_path.read_bytes()
    try:
        document = _RAW_ROWS(raw)
        if b"\n" in raw or b"\r" in raw:  # as payrace writes it (indented): read once more
            document = _RAW_ROWS(raw.replace(b"\n", b" ").replace(b"\r", b" "))
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        document = None
    rows = document.payments if isinstance(document, _Wrapped) else document
    if rows is None:
        return [json.dumps(row).encode() for row in read_db(db_path) or ()]
    return rows


__all__ = [
    "CHARGE_PATHS",
    "DbRow",
    "Evidence",
    "LedgerEntry",
    "charge_endpoint",
    "is_money_charge",
    "load_evidence",
    "not_a_row",
    "read_db",
    "read_db_lines",
]
