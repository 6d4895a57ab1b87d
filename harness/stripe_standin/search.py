"""The part of Stripe's search language understood here: `field:'value'` clauses joined by AND."""

from __future__ import annotations

import re
from typing import Any

from harness.stripe_standin.wire import StripeError

# metadata['payment_id']:'pay_1' · status:'succeeded' · currency:"usd" · amount:1000
_CLAUSE = re.compile(
    r"""\s*(?:metadata\[(?P<mq>['"])(?P<mkey>[^'"]+)(?P=mq)\]|(?P<field>status|currency|amount))"""
    r"""\s*:\s*(?:(?P<vq>['"])(?P<value>[^'"]*)(?P=vq)|(?P<number>\d+))\s*"""
)


def parse_query(query: Any) -> list[tuple[str, str]]:
    """Clauses as `(field, value)`, field `metadata.<key>`, `status`, `currency` or `amount`."""
    if not isinstance(query, str) or not query.strip():
        raise StripeError(400, "Missing required param: query.", code="parameter_missing",
                          param="query")
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+AND\s+", query.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise StripeError(
                400,
                f"Unsupported search query {query!r}: the stand-in understands clauses such as "
                "metadata['payment_id']:'pay_1', status:'succeeded', currency:'usd' or "
                "amount:1000, joined by AND.",
                param="query",
            )
        field = f"metadata.{match['mkey']}" if match["mkey"] else match["field"]
        value = match["value"] if match["value"] is not None else match["number"]
        clauses.append((field, value))
    return clauses


def matches_query(obj: dict[str, Any], clauses: list[tuple[str, str]]) -> bool:
    """True when the object satisfies every clause (exact, case-sensitive, as Stripe's `:`)."""
    for field, value in clauses:
        if field.startswith("metadata."):
            actual = obj.get("metadata", {}).get(field[len("metadata."):])
        else:
            actual = obj.get(field)
        if actual is None or str(actual) != value:
            return False
    return True
