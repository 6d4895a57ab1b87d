"""The ledger's routing record: read straight from a line, it is what the entry's dict says."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from harness.checkers.routing import LedgerFacts, _decode_facts
from harness.jsonl import parse_line
from harness.ledger import is_money_charge

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
                    st.sampled_from(["charge", "refund", "request", "succeeded", "failed"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from([*LedgerFacts.__struct_fields__, "amount", "object", "Kind", "metadata"])


@given(st.lists(st.tuples(KEYS, VALUES), max_size=14), st.booleans())
@example([("kind", "charge"), ("kind", "refund")], False)  # a repeated key: the last counts
@example([("kind", "charge"), ("status", None)], False)  # null is not "missing"
@example([("wall", None), ("time", 5)], True)
def test_a_line_reads_as_its_dict_says(pairs: list[tuple[str, Any]], spaced: bool) -> None:
    """Any JSON object line, keys repeated or missing or null, spaced or not: the decoded
    facts are the ones `from_entry` takes from the dict the general reader parses, and a
    money charge is one by harness.ledger's rule."""
    separators = (", ", ": ") if spaced else (",", ":")
    body = ",".join(json.dumps(k) + separators[1] + json.dumps(v, separators=separators)
                    for k, v in pairs)
    line = ("{" + body + "}\n").encode()
    entry = parse_line(line)
    facts = _decode_facts(line)
    assert facts == LedgerFacts.from_entry(entry)
    assert facts.is_money_charge == is_money_charge(entry)
    assert facts.wall_time == entry.get("wall", entry.get("time"))
