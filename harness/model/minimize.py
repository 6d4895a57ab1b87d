"""After Hypothesis: drop every step the violation does not need, by replaying the program."""

from __future__ import annotations

from collections.abc import Sequence

from harness.model.checks import PaymentViolation
from harness.model.environment import Environment, EnvironmentFailure
from harness.model.machine import model_for
from harness.model.program import END, START

INVARIANT = "state.no_duplicate_charge()"


def split_steps(program: Sequence[str]) -> list[str]:
    """The rule calls of a printed program, without constructor, invariants and teardown."""
    return [line for line in program if line not in (START, END, INVARIANT)]


def assemble(steps: Sequence[str]) -> list[str]:
    """A program in Hypothesis's layout: the invariant checked first and after every step."""
    lines = [START, INVARIANT]
    for step in steps:
        lines += [step, INVARIANT]
    return [*lines, END]


def replay_program(env: Environment, program: Sequence[str]) -> PaymentViolation | None:
    """Run a printed program against `env`; the violation it raises, if any.

    The text is Hypothesis's own output (or payrace's reassembly of it): calls on
    `state` with literal arguments and the bundle variables it assigned.
    """
    namespace: dict[str, object] = {"PaymentModel": model_for(env)}
    try:
        exec(compile("\n".join(program), "<counterexample>", "exec"), namespace)
    except PaymentViolation as violation:
        return violation
    except (EnvironmentFailure, KeyboardInterrupt):
        raise
    except Exception:
        # A step that no longer makes sense without a deleted one (an unbound variable).
        return None
    return None


def minimize(
    env: Environment, program: Sequence[str], checker: str
) -> tuple[list[str], PaymentViolation | None]:
    """Delete steps one at a time while the same checker still fails (1-minimal program).

    Returns the smallest program found and the violation of its last successful replay
    (None if even the unchanged program did not reproduce, e.g. a race left unpinned).
    """
    steps = split_steps(program)
    current = replay_program(env, assemble(steps))
    if current is None or current.result.checker != checker:
        return list(program), None
    changed = True
    while changed:
        changed = False
        for i in reversed(range(len(steps))):
            candidate = steps[:i] + steps[i + 1 :]
            violation = replay_program(env, assemble(candidate))
            if violation is not None and violation.result.checker == checker:
                steps, current, changed = candidate, violation, True
    # Replay the final program once more so the evidence kept is exactly this program's.
    final = replay_program(env, assemble(steps))
    return assemble(steps), final if final is not None else current
