"""Writing an exploration's run directory: summary, history, ledger, db and counterexample.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.model.checks import evidence_of
from harness.model.explore import ExploreResult
from harness.model.parts import PartsRequest
from harness.model.program import counterexample_source, steps_in
from harness.runs import (
    build_summary,
    write_db,
    write_history,
    write_ledger,
    write_summary,
    write_text,
)


def fault_events(result: ExploreResult) -> list[dict[str, Any]]:
    """Faults the counterexample met, as summary.json `faults`: provider faults from the ledger
    (on the history's clock) and the failpoints, connection drops and clock jumps of its steps."""
    example = result.example
    if example is None:
        return []
    evidence = evidence_of(example, reconciled=False)
    events: list[dict[str, Any]] = []
    for entry in example.ledger:
        if entry.get("kind") == "request" and entry.get("fault"):
            events.append(
                {
                    "time": evidence.rel(entry.get("time")),
                    "action": entry["fault"],
                    "payment_id": entry.get("payment_id"),
                    "request_id": entry.get("request_id"),
                }
            )
    for step in example.steps:
        if step.detail.get("failpoint"):
            events.append(
                {"time": None, "action": f"failpoint {step.detail['failpoint']}",
                 "step": step.index + 1}
            )
        if step.rule in ("drop_db_connections", "expire_keys"):
            events.append({"time": None, "action": step.rule, "step": step.index + 1})
        elif step.detail.get("late"):
            events.append({"time": None, "action": "expire_keys (before the retry)",
                           "step": step.index + 1})
    return events


def write_explore_run(
    run_dir: Path,
    result: ExploreResult,
    *,
    run_id: str,
    request: PartsRequest,
    parts: dict[str, Any],
    command: str,
    started: datetime,
    duration_s: float,
    settings: dict[str, Any],
    coverage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every file of the run; return the summary written to summary.json."""
    example = result.example
    extra: dict[str, Any] = {"explore": settings, "reason": result.reason}
    if coverage is not None:
        if example is not None and example.settled is not None:
            coverage = {**coverage, "settled": example.settled.as_dict()}
        extra["coverage"] = coverage
    if result.verdict == "violation" and result.violation is not None:
        counterexample: dict[str, Any] = {
            "checker": result.violation.result.checker,
            "because": str(result.violation),
            "program": list(result.program),
            "steps": steps_in(result.program),
            "flaky": result.flaky,
        }
        if result.cause is not None:
            counterexample["cause"] = result.cause.to_dict()
        extra["counterexample"] = counterexample
    summary = build_summary(
        run_id=run_id,
        kind="explore",
        command=command,
        verdict=result.verdict,  # type: ignore[arg-type]  # one of the three by construction
        target=request.spec().label,
        parts=parts,
        seed=request.seed,
        started=started,
        duration_s=duration_s,
        checks=[c.to_dict() for c in result.checks],
        stats=result.stats,
        faults=fault_events(result),
        **extra,
    )
    write_summary(run_dir, summary)
    write_history(run_dir, example.recorder.ops() if example is not None else [])
    write_ledger(run_dir, example.ledger if example is not None else [])
    if example is not None and example.db is not None:
        # A verified run keeps no example's database: no file says 'no snapshot'.
        write_db(run_dir, example.db)
    if result.verdict == "violation" and result.program:
        write_text(
            run_dir,
            "counterexample.py",
            counterexample_source(
                result.program,
                target=request.spec().label,
                workers=request.workers,
                faults=request.faults,
                run_id=run_id,
                command=command,
                headline=str(result.violation),
                cause=result.cause.sentence if result.cause is not None else None,
                stripe_url=request.stripe_url,
                database_url=request.database_url,
                seed=request.seed,
                db_query=request.db_query,
                settle_s=request.settle_s,
                service_pid=request.service_pid,
                adapter=request.adapter,
            ),
        )
    return summary


def faults_label(faults: Sequence[str]) -> str:
    return ",".join(faults) if faults else "none"
