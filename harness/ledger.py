"""What counts as a money movement in the provider's ledger: one rule for every reader."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

LedgerEntry = Mapping[str, Any]
E = TypeVar("E", bound=LedgerEntry)


def is_money_charge(entry: LedgerEntry) -> bool:
    """A `charge` entry that took money: status succeeded (or missing), never a replay."""
    return (
        entry.get("kind") == "charge"
        and entry.get("status", "succeeded") == "succeeded"
        and not entry.get("replayed", False)
    )


def money_charges(entries: Iterable[E]) -> list[E]:
    """The money charges among `entries`, once per charge id, in the order given.

    The same money movement written twice (one id) is still one charge; an entry without
    an id is told apart by its `seq`.
    """
    seen: set[Any] = set()
    out: list[E] = []
    for entry in entries:
        if not is_money_charge(entry):
            continue
        key = entry.get("id") or ("seq", entry.get("seq"))
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
    return out


__all__ = ["LedgerEntry", "is_money_charge", "money_charges"]
