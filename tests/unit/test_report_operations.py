"""The report's pairing of raw events is harness.history's pairing rule, for any history."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.history import OP_TYPES, Op
from harness.history import pair_operations as history_pairing
from harness.report.operations import pair_operations

_EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(["invoke", "invoke", "ok", "fail", "info", "bogus"])},
    optional={"process": st.sampled_from(["w0", "w1", 2, "2"]),
              "f": st.sampled_from(["charge", "read", 7])},
)


def _by_the_rule(history: list[dict[str, Any]]) -> list[tuple[int, int | None]]:
    """(invoke, completion) positions as harness.history pairs the events, read as the
    report reads a torn or hand-edited file: a missing process or f is "?"."""
    ops = [Op(position, 0.0, 0.0, str(e.get("process", "?")), e["type"], str(e.get("f", "?")))
           for position, e in enumerate(history) if e["type"] in OP_TYPES]
    pairs = [(p.invoke.index, p.completion.index if p.completion is not None else None)
             for p in history_pairing(ops).operations]
    return sorted(pairs)


@settings(max_examples=300)
@given(events=st.lists(_EVENTS, max_size=14))
def test_raw_events_pair_as_the_history_rule_pairs_them(events: list[dict[str, Any]]) -> None:
    """Same invokes, same completions, orphans (another f, no open invoke) left out, a second
    invoke leaving the first open; a numeric process and its string are one process."""
    history = [{"index": i, "time": i / 10, **e} for i, e in enumerate(events)]
    got = [(op.index, op.end_index) for op in pair_operations(history)]
    assert got == _by_the_rule(history)
    outcomes = {op.index: op.outcome for op in pair_operations(history)}
    for invoke, done in _by_the_rule(history):
        assert outcomes[invoke] == ("open" if done is None else history[done]["type"])
