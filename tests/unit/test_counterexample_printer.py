"""The counterexample printer: programs from Hypothesis notes, a counterexample.py that runs."""

from __future__ import annotations

import pytest

from harness.model.minimize import assemble, split_steps
from harness.model.program import (
    counterexample_source,
    program_from_notes,
    show_program,
    steps_in,
)

NOTES = [
    "Failing test case: <state machine>",
    "state = PaymentModel()",
    "state.no_duplicate_charge()",
    "payments_0 = state.create_payment(amount=1000, customer=None)",
    "state.no_duplicate_charge()",
    "state.charge(failpoint=None, fault='drop_after', key='none', payment=payments_0, workers=[0])",
    "state.no_duplicate_charge()",
    "state.retry(failpoint=None, fault=None, key='same', payment=payments_0, worker=0)",
    "state.no_duplicate_charge()",
    "state.teardown()",
    "Explanation:",
    "    These lines were always and only run by failing test cases:",
]


def test_the_program_is_cut_from_the_constructor_to_teardown() -> None:
    """Notes before `state = …` and after `teardown()` are not part of the program."""
    program = program_from_notes(NOTES)
    assert program[0] == "state = PaymentModel()"
    assert program[-1] == "state.teardown()"
    assert len(program) == 9


def test_the_last_program_wins_when_notes_hold_two() -> None:
    """A failure re-reported after a replay lists the program again; the last one is current."""
    second = ["state = PaymentModel()", "state.reconcile(failpoint=None, fault=None)",
              "state.teardown()"]
    assert program_from_notes([*NOTES, *second]) == second


def test_no_program_in_the_notes_gives_an_empty_program() -> None:
    assert program_from_notes(["some other note"]) == []


def test_steps_count_rule_calls_only() -> None:
    """Constructor, invariant checks and teardown are not steps."""
    assert steps_in(program_from_notes(NOTES)) == 3


def test_the_shown_program_hides_the_invariant_checks() -> None:
    shown = show_program(program_from_notes(NOTES))
    assert "no_duplicate_charge" not in shown
    assert shown.splitlines()[2].startswith("state.charge(")


def test_reassembling_steps_restores_hypothesis_layout() -> None:
    """split_steps and assemble round-trip a program exactly."""
    program = program_from_notes(NOTES)
    assert assemble(split_steps(program)) == program


def test_counterexample_file_compiles_and_replays_through_replaying() -> None:
    """The written file is valid Python that calls harness.model.replay.replaying."""
    source = counterexample_source(
        program_from_notes(NOTES),
        target="reference:pr145",
        workers=2,
        faults=("provider", "failpoints"),
        run_id="r1",
        command="payrace explore --target reference:pr145",
        headline='no-duplicate-charge: paid """twice""" \\ with\nnewlines',
        cause="step 2 lost its answer",
        seed=7,
    )
    code = compile(source, "counterexample.py", "exec")
    assert "replaying" in code.co_names
    assert "with replaying(target='reference:pr145', workers=2, faults=('provider', " in source
    assert "    state.retry(" in source
    # Free text only ever lands in comments, so quotes and newlines cannot break the file.
    assert "# violation: no-duplicate-charge" in source
    assert "# newlines" in source


def test_an_empty_program_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a program"):
        counterexample_source(
            [], target="reference:naive", workers=1, faults=(), run_id="r", command="c",
            headline="h",
        )
