"""Read a run directory's evidence files (summary, history, ledger, db snapshot, Locust CSVs)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.jsonl import load_document, read_jsonl

SUMMARY = "summary.json"
HISTORY = "history.jsonl"
LEDGER = "ledger.jsonl"
DB = "db.json"
# Locust's --csv prefix used by `payrace run`: locust_stats.csv, locust_failures.csv, …
LOCUST_STATS = "locust_stats.csv"
LOCUST_FAILURES = "locust_failures.csv"
LOCUST_HISTORY = "locust_stats_history.csv"
LOCUST_EXCEPTIONS = "locust_exceptions.csv"


@dataclass
class CsvTable:
    """A CSV file as its header and rows of strings, exactly as Locust wrote it."""

    header: list[str]
    rows: list[list[str]]


@dataclass
class RunFiles:
    """Everything a run directory holds that the report shows; absent files are empty or None."""

    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    db: list[dict[str, Any]] | None = None
    locust: dict[str, CsvTable] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    # Lines that could not be parsed, per file: a torn last line after a crash is expected.
    skipped_lines: dict[str, int] = field(default_factory=dict)
    # Bytes of evidence (history, ledger, DB view) left unread because there were too many to
    # hold (`read_run(evidence_bytes=...)`); 0 when they were read.
    unread_bytes: int = 0


def is_run_dir(path: Path) -> bool:
    """True when `path` is a directory holding a summary.json (what makes a run directory)."""
    return path.is_dir() and (path / SUMMARY).is_file()


def evidence_bytes(run_dir: Path) -> int:
    """The size of a run directory's evidence files (history, ledger, DB view) together."""
    return sum(p.stat().st_size for p in (run_dir / HISTORY, run_dir / LEDGER, run_dir / DB)
               if p.is_file())


def read_run(run_dir: Path, *, evidence_limit: int | None = None) -> RunFiles:
    """Load a run directory, or raise UsageError naming what is missing or malformed.

    Evidence files larger together than `evidence_limit` bytes are not read (`unread_bytes`
    says how many): the report is then built from summary.json alone."""
    if not run_dir.exists():
        raise UsageError(
            f"No run directory at {run_dir}: expected reports/<run-id>/ with summary.json"
        )
    if not is_run_dir(run_dir):
        raise UsageError(
            f"{run_dir} is not a payrace run directory: it has no {SUMMARY} "
            "(expected reports/<run-id>/ with summary.json, history.jsonl, ledger.jsonl)"
        )
    summary = _read_json(run_dir / SUMMARY)
    if not isinstance(summary, dict):
        kind = type(summary).__name__
        raise UsageError(f"{run_dir / SUMMARY} must hold a JSON object, got a JSON {kind}")
    run = RunFiles(run_dir=run_dir, summary=summary)
    run.present = sorted(p.name for p in run_dir.iterdir() if p.is_file())
    size = evidence_bytes(run_dir)
    if evidence_limit is not None and size > evidence_limit:
        run.unread_bytes = size
    else:
        _read_evidence(run_dir, run)
    for name in (LOCUST_STATS, LOCUST_FAILURES, LOCUST_HISTORY, LOCUST_EXCEPTIONS):
        if (run_dir / name).is_file():
            run.locust[name] = _read_csv(run_dir / name)
    return run


def _read_evidence(run_dir: Path, run: RunFiles) -> None:
    if (run_dir / HISTORY).is_file():
        run.history, run.skipped_lines[HISTORY] = _read_jsonl(run_dir / HISTORY, "history op")
    if (run_dir / LEDGER).is_file():
        run.ledger, run.skipped_lines[LEDGER] = _read_jsonl(run_dir / LEDGER, "ledger entry")
    if (run_dir / DB).is_file():
        data = _read_json(run_dir / DB)
        # JSON null is how a writer says "no snapshot was taken": read it as a missing file.
        run.db = None if data is None else _db_rows(data, run_dir / DB)


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
    try:
        return load_document(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _read_jsonl(path: Path, what: str) -> tuple[list[dict[str, Any]], int]:
    """Plain JSON objects, and how many lines were torn or skipped, instead of failing."""
    # Plain objects, not the recorder's typed ops: a report must render even for a run
    # written by another payrace version or cut short by a crash.
    rows = read_jsonl(path, what, skip_damaged=True)
    return rows, rows.torn_lines + rows.skipped_lines


def _db_rows(data: Any, path: Path) -> list[dict[str, Any]]:
    """Accept the snapshot as a list of payment rows or as {"payments": [...]}."""
    if isinstance(data, dict) and isinstance(data.get("payments"), list):
        data = data["payments"]
    if not isinstance(data, list):
        raise UsageError(f"{path} must hold a list of payment rows or {{\"payments\": [...]}}")
    return [row for row in data if isinstance(row, dict)]


def _read_csv(path: Path) -> CsvTable:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return CsvTable(header=[], rows=[])
    return CsvTable(header=rows[0], rows=rows[1:])
