"""Run directories: run ids, `reports/<run-id>/` creation, writing summary, history and ledger."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness import jsonl
from harness.errors import EXIT_CODES, UsageError

Verdict = Literal["verified", "violation", "inconclusive"]
Kind = Literal["explore", "run", "check"]

SCHEMA = 1
DEFAULT_REPORTS_DIR = Path("reports")


def new_run_id(kind: str, now: datetime | None = None) -> str:
    """A sortable, unique run id: `<UTC timestamp>-<kind>-<random>`, safe as a directory name."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{kind}-{secrets.token_hex(3)}"


def create_run_dir(run_id: str, reports_dir: str | Path = DEFAULT_REPORTS_DIR) -> Path:
    """Create `reports_dir/run_id/`, or raise UsageError saying why it cannot be written."""
    base = Path(reports_dir)
    run_dir = base / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UsageError(f"Run directory {run_dir} already exists; choose another run id") from None
    except OSError as exc:
        raise UsageError(
            f"Cannot create the run directory {run_dir}: {exc.strerror or exc}. "
            "Pass a writable --reports-dir or run from a writable directory."
        ) from None
    if not os.access(run_dir, os.W_OK):
        raise UsageError(f"The run directory {run_dir} is not writable")
    return run_dir


def build_summary(
    *,
    run_id: str,
    kind: Kind,
    command: str,
    verdict: Verdict,
    target: str,
    parts: Mapping[str, Any],
    seed: int | None,
    started: datetime,
    duration_s: float,
    checks: Sequence[Mapping[str, Any]],
    stats: Mapping[str, Any] | None = None,
    faults: Sequence[Mapping[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The summary.json object of docs/CONTRACTS.md; the exit code follows from the verdict."""
    if verdict not in EXIT_CODES:
        raise ValueError(f"verdict={verdict!r}, expected one of {', '.join(EXIT_CODES)}")
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "kind": kind,
        "command": command,
        "verdict": verdict,
        "exit_code": EXIT_CODES[verdict],
        "target": target,
        "parts": dict(parts),
        "seed": seed,
        "started": started.astimezone(UTC).isoformat(),
        "duration_s": round(duration_s, 3),
        "checks": [dict(c) for c in checks],
        "stats": dict(stats or {}),
        "faults": [dict(f) for f in faults],
    }
    summary.update(extra)
    return summary


def _write(path: Path, text: str) -> Path:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_summary(run_dir: Path, summary: Mapping[str, Any]) -> Path:
    return _write(run_dir / "summary.json", jsonl.encode_indented(summary) + "\n")


def write_jsonl(path: Path, rows: Iterable[Any], *, atomic: bool = False) -> Path:
    """Write rows (dicts, or objects with `to_dict()`) as JSON Lines."""
    try:
        jsonl.write_jsonl(path, rows, atomic=atomic)
    except OSError as exc:
        raise UsageError(f"Cannot write {path}: {exc.strerror or exc}") from None
    return path


# Atomic: a recorder or a stand-in's journal may still hold the file open (explore keeps
# the example in progress there); they go on writing to the replaced file, never into ours.
def write_history(run_dir: Path, ops: Iterable[Any]) -> Path:
    return write_jsonl(run_dir / "history.jsonl", ops, atomic=True)


def write_ledger(run_dir: Path, entries: Iterable[Mapping[str, Any]]) -> Path:
    return write_jsonl(run_dir / "ledger.jsonl", entries, atomic=True)


def write_db(run_dir: Path, rows: Sequence[Mapping[str, Any]] | None) -> Path:
    return _write(run_dir / "db.json", json.dumps(rows, indent=1, default=str) + "\n")


def write_text(run_dir: Path, name: str, text: str) -> Path:
    return _write(run_dir / name, text)
