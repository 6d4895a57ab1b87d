"""Run directories: unique ids, clear errors when unwritable, a summary shaped by the contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.runs import build_summary, create_run_dir, new_run_id, write_summary


def test_run_ids_sort_by_time_and_never_repeat() -> None:
    """Two ids made in the same second differ; the timestamp leads so ids sort by time."""
    moment = datetime(2025, 11, 26, 12, 0, 0, tzinfo=UTC)
    first, second = new_run_id("explore", moment), new_run_id("explore", moment)
    assert first != second
    assert first.startswith("20251126-120000-explore-")


def test_an_unwritable_reports_dir_is_a_usage_error(tmp_path: Path) -> None:
    """A reports directory under a file cannot be created: one clear UsageError, not OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="Cannot create the run directory"):
        create_run_dir("r1", blocker / "reports")


def test_summary_has_the_contract_fields_and_exit_code(tmp_path: Path) -> None:
    """The verdict decides the exit code; the written file round-trips as JSON."""
    run_dir = create_run_dir("r1", tmp_path)
    summary = build_summary(
        run_id="r1",
        kind="explore",
        command="payrace explore --target reference:pr145",
        verdict="violation",
        target="reference:pr145",
        parts={"postgres": {"tier": "embedded"}},
        seed=0,
        started=datetime(2025, 1, 1, tzinfo=UTC),
        duration_s=1.23456,
        checks=[{"checker": "no-duplicate-charge", "validity": "invalid"}],
    )
    data = json.loads(write_summary(run_dir, summary).read_text())
    assert data["exit_code"] == 1
    assert data["schema"] == 1
    assert data["duration_s"] == 1.235
    assert set(data) >= {
        "run_id", "kind", "command", "verdict", "target", "parts", "seed", "started",
        "checks", "stats", "faults",
    }


def test_an_unknown_verdict_is_refused() -> None:
    """Only verified, violation and inconclusive exist."""
    with pytest.raises(ValueError, match="verdict='maybe'"):
        build_summary(
            run_id="r", kind="run", command="c", verdict="maybe",  # type: ignore[arg-type]
            target="t", parts={}, seed=None, started=datetime.now(UTC), duration_s=0, checks=[],
        )
