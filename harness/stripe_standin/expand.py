"""Stripe's `expand[]`: which id fields become the objects they name, checked before executing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.stripe_standin.wire import StripeError

Obj = dict[str, Any]
# `latest_charge.payment_intent` -> {"latest_charge": {"payment_intent": {}}}
Tree = dict[str, "Tree"]
Lookup = Callable[[str, str], "Obj | None"]  # (object type, id) -> the stored object

# Per object type: each id field the stand-in can expand, and the type of the object it names.
EXPANDABLE: dict[str, dict[str, str]] = {
    "payment_intent": {"latest_charge": "charge"},
    "charge": {"payment_intent": "payment_intent"},
    "refund": {"charge": "charge", "payment_intent": "payment_intent"},
}
# Fields Stripe expands that the stand-in always sends whole (a Charge's `refunds` list, which
# Stripe stopped including by default in API version 2022-11-15): accepted and left as they are.
ALWAYS_WHOLE: dict[str, frozenset[str]] = {"charge": frozenset({"refunds"})}
# Expandable at Stripe, but the stand-in keeps no such objects: refused with a reason.
NOT_KEPT: dict[str, str] = {
    "customer": "Customer", "payment_method": "PaymentMethod",
    "balance_transaction": "BalanceTransaction", "invoice": "Invoice", "review": "Review",
    "on_behalf_of": "Account", "application": "Application", "source_transfer": "Transfer",
    "transfer": "Transfer", "failure_balance_transaction": "BalanceTransaction",
}
MAX_DEPTH = 4  # Stripe expands at most four levels deep
LIST_TYPES = frozenset({"list", "search_result"})


def _refuse(path: str, index: int, extra: str = "") -> StripeError:
    return StripeError(400, f"This property cannot be expanded ({path}).{extra}",
                       param=f"expand[{index}]")


def _check(path: str, index: int, kind: str, listed: bool) -> list[str]:
    """The path's fields after a list's `data.`; raises Stripe's 400 for any it cannot expand."""
    fields = path.split(".")
    if listed:
        if fields[0] != "data" or len(fields) == 1:
            hint = ""
            if fields[0] in EXPANDABLE[kind] or fields[0] in ALWAYS_WHOLE.get(kind, ()):
                hint = f" You may want to try expanding 'data.{path}' instead."
            raise _refuse(path, index, hint)
        fields = fields[1:]
    if len(fields) > MAX_DEPTH:
        raise StripeError(
            400, f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
            param=f"expand[{index}]",
        )
    for position, name in enumerate(fields):
        if name in ALWAYS_WHOLE.get(kind, ()) and position == len(fields) - 1:
            return fields
        target = EXPANDABLE.get(kind, {}).get(name)
        if target is None:
            noun = NOT_KEPT.get(name)
            reason = (f" The payrace stand-in keeps no {noun} objects, so it cannot expand "
                      f"{name}." if noun else "")
            raise _refuse(path, index, reason)
        kind = target
    return fields


def parse_expand(value: Any, kind: str, listed: bool = False) -> Tree:
    """`expand[]` of a request whose answer is a `kind` object (or a list of them) as a tree.

    Checked when validating, so a request with a bad path executes nothing, as at Stripe.
    """
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StripeError(
            400, "Invalid array: expand must be a list of paths, e.g. expand[]=latest_charge.",
            param="expand",
        )
    tree: Tree = {}
    for index, path in enumerate(value):
        node = tree
        fields = _check(path, index, kind, listed)
        for name in (["data"] if listed else []) + fields:
            node = node.setdefault(name, {})
    return tree


def apply_expand(obj: Obj, tree: Tree, lookup: Lookup) -> Obj:
    """A copy of `obj` with the tree's id fields replaced by their objects, recursively.

    Copies, never the stored objects, so nothing expanded leaks into a later answer. A null
    field stays null, as at Stripe.
    """
    if not tree:
        return obj
    out = dict(obj)
    kind = obj.get("object", "")
    for name, sub in tree.items():
        if kind in LIST_TYPES and name == "data":
            out["data"] = [apply_expand(item, sub, lookup) for item in obj["data"]]
            continue
        target = EXPANDABLE.get(kind, {}).get(name)
        value = obj.get(name)
        if target is None or not isinstance(value, str):
            continue  # always-whole fields, and null ids
        found = lookup(target, value)
        if found is not None:
            out[name] = apply_expand(found, sub, lookup)
    return out
