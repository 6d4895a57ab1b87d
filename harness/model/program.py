"""The counterexample printer: the shrunk step program, and a counterexample.py that replays it."""

from __future__ import annotations

import sys
from collections.abc import Sequence

START = "state = PaymentModel()"
END = "state.teardown()"


def program_from_notes(notes: Sequence[str]) -> list[str]:
    """The step program Hypothesis attached to a failure, from `state = …` to `teardown()`."""
    lines = [str(n) for n in notes]
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    if not starts:
        return []
    start = starts[-1]
    for end in range(start, len(lines)):
        if lines[end].strip() == END:
            return [line.strip() for line in lines[start : end + 1]]
    return [line.strip() for line in lines[start:]]


def steps_in(program: Sequence[str]) -> int:
    """Rule calls in a program: not the constructor, the invariant checks or teardown."""
    return sum(
        1
        for line in program
        if "state." in line
        and line not in (START, END)
        and not line.startswith("state.no_duplicate_charge(")
    )


def show_program(program: Sequence[str]) -> str:
    """The program for a terminal: the steps only, without the per-step invariant checks."""
    return "\n".join(line for line in program if not line.startswith("state.no_duplicate_charge("))


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.splitlines() or [""])


def counterexample_source(
    program: Sequence[str],
    *,
    target: str,
    workers: int,
    faults: Sequence[str],
    run_id: str,
    command: str,
    headline: str,
    cause: str | None = None,
    stripe_url: str | None = None,
    database_url: str | None = None,
    seed: int = 0,
    db_query: str | None = None,
    settle_s: float | None = None,
    service_pid: int | None = None,
    adapter: str | None = None,
) -> str:
    """A Python file that provisions the parts and replays `program`; it exits 1 on the violation.

    Every value comes from payrace itself or from Hypothesis's printed program, which is
    valid Python by construction; the free text (violation, cause) only goes in comments.
    """
    if not program:
        raise ValueError("counterexample_source needs a program of at least `state = …`")
    options = [f"target={target!r}", f"workers={workers}", f"faults={tuple(faults)!r}"]
    if stripe_url:
        options.append(f"stripe_url={stripe_url!r}")
    if database_url:
        options.append(f"database_url={database_url!r}")
    if db_query:
        options.append(f"db_query={db_query!r}")
    if settle_s is not None:
        options.append(f"settle_s={settle_s!r}")
    if service_pid is not None:
        options.append(f"service_pid={service_pid}")
    if adapter:
        options.append(f"adapter={adapter!r}")
    options.append(f"seed={seed}")
    body = "\n".join(f"    {line}" for line in program)
    lines = [
        '"""A payrace counterexample: replays a shrunk program that broke an invariant."""',
        "",
        _comment(f"run {run_id}: {command}"),
        _comment(f"violation: {headline}"),
    ]
    if cause:
        lines.append(_comment(f"cause: {cause}"))
    if target.startswith("http"):
        lines += [
            f"# Your service must be running at {target}, wired to the stand-in at",
            f"# {stripe_url}, as during the run: payrace starts neither of them. It replays",
            "# every step against them and exits 1 when the violation reproduces (3 when a",
            "# part does not answer).",
        ]
    else:
        lines += [
            "# It provisions PostgreSQL and the stand-in as the run did, replays every step,",
            "# and exits 1 when the violation reproduces.",
        ]
    lines += [
        "# Run it with the interpreter payrace is installed in, e.g.",
        f"#   {sys.executable} counterexample.py",
        "",
        "from harness.model.replay import replaying",
        "",
        f"with replaying({', '.join(options)}) as PaymentModel:",
        body,
        "",
    ]
    return "\n".join(lines)
