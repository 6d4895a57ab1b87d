"""`payrace check DIR`: judge evidence no payrace run judged (a distributed run, a killed one)."""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from harness.between_examples import RESETTING, resetting
from harness.checkers import compose, standard_checkers, verdict
from harness.checkers.registry import BUILTIN, CheckerEntry, merges_of
from harness.checkers.scaled import judge_files
from harness.errors import UsageError
from harness.jsonl import load_document
from harness.ledger_behind import LEDGER_BEHIND, copy_prefix, covered_ops
from harness.runner.evidence import read_faults
from harness.runner.parts import merge_parts_counting, part_paths
from harness.runs import build_summary, write_summary

HISTORY, LEDGER, DB, SUMMARY = "history.jsonl", "ledger.jsonl", "db.json", "summary.json"
EXPECTED = (f"expected a directory holding {HISTORY} (or its parts {HISTORY}.part-*), {LEDGER} "
            f"and optionally {DB} (docs/CONTRACTS.md)")


@dataclass(frozen=True)
class CheckSpec:
    """What to judge and how: the directory, the work a verdict needs, the user's checkers."""

    run_dir: Path
    min_charges: int = 20
    checkers: tuple[CheckerEntry, ...] = ()
    # The target settled (its reconciler ran, or its work was waited for) before the evidence
    # was taken: a charged payment still in progress is then a loss, not work in progress.
    settled: bool = True
    command: str = ""


def merge_evidence(path: Path) -> int:
    """Make the directory evidence: any history parts merged into history.jsonl (how many torn
    lines that left out), or UsageError (exit 2) naming what is missing and what is expected."""
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory; {EXPECTED}")
    history = path / HISTORY
    parts = part_paths(history)
    if not history.is_file() and not parts:
        raise UsageError(f"{path} is not evidence: {HISTORY} is missing; {EXPECTED}")
    if not (path / LEDGER).is_file():
        # What a killed `run --stripe-url` leaves: its ledger is in the user's own stand-in.
        raise UsageError(f"{path} is not evidence: {LEDGER} is missing (a run on your own "
                         f"stand-in leaves it there: start it with --ledger-journal FILE and "
                         f"copy that file here as {LEDGER}); {EXPECTED}")
    _refuse_a_judged_run(path / SUMMARY)
    # The per-process parts of a distributed or killed run; with none, the file as it is.
    return merge_parts_counting(history)[1] if parts else 0


def _refuse_a_judged_run(summary: Path) -> None:
    """A run's own summary.json is evidence of its own: never overwritten by a check."""
    if not summary.is_file():
        return
    try:
        kind = _kind_of(summary.read_bytes())
    except OSError:
        kind = None
    if kind != "check":
        raise UsageError(
            f"{summary.parent} already holds a judged run ({SUMMARY} of a {kind or 'run'}); "
            "`payrace report` re-renders it, or copy its evidence files to a new directory "
            "to check them again"
        )


class _Kind(msgspec.Struct):
    kind: Any = None


def _kind_of(document: bytes) -> Any:
    """The `kind` of a summary.json (None when it has none or is not a JSON object): its
    other 40 MB of a ten-million-op check's violations are skipped over, not built."""
    try:
        return msgspec.json.decode(document, type=_Kind).kind
    except (ValueError, RecursionError):  # not an object, or JSON only json reads (NaN)
        try:
            loaded = load_document(document)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
            return None
        return loaded.get("kind") if isinstance(loaded, dict) else None


def check(spec: CheckSpec) -> tuple[Path, dict[str, Any]]:
    """Judge the directory's evidence with every checker; write summary.json beside it.

    The files are streamed and judged in partitions (harness.checkers.scaled), so a run of
    ten million ops is judged in bounded memory with the same verdict as one held whole.
    """
    root = spec.run_dir
    torn = merge_evidence(root)
    started, clock = datetime.now(UTC), time.monotonic()
    from harness.runner.run import combine_evidence_stats, evidence_tally  # the run's own counts

    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        history, ledger = root / HISTORY, root / LEDGER
        db: Path | None = root / DB
        covered = covered_ops(root)
        if resetting(root):
            # The history may be one example's and the ledger the next's: judging them
            # together would find charges never made, or made with no client asking.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="payrace-check-"))
            history, ledger, db = Path(scratch) / HISTORY, Path(scratch) / LEDGER, None
            history.touch()
            ledger.touch()
            notes.append(f"{RESETTING}: payrace was killed while resetting its parts between "
                         "two examples, so the history and the ledger may belong to different "
                         "examples; neither was judged (explore judged the example before).")
        elif covered is not None:
            # Judged: the prefix the ledger copy covers. The ops after it may have charged
            # where the copy could not see, so they would read as charges never made.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="payrace-check-"))
            history = Path(scratch) / HISTORY
            left_out = copy_prefix(root / HISTORY, covered, history)
            notes.append(f"{LEDGER_BEHIND}: the ledger is a copy that covers the first "
                         f"{covered} history op(s); the {left_out} recorded after its last copy "
                         "were left out.")
        judged = judge_files(
            history, ledger, db,
            standard_checkers(spec.min_charges, extra=spec.checkers),
            merges_of([*BUILTIN, *spec.checkers]),
            reconciled=spec.settled,
            tally=evidence_tally,  # a module-level function: worker processes import it by name
        )
    results = judged.results
    name, _ = verdict(compose(results))
    if not judged.has_db:
        notes.append(f"No {DB}: db-consistency could not be judged.")
    if not spec.settled:
        notes.append("Checked as unsettled: payments still in progress are work in progress, "
                     "not losses.")
    torn += judged.torn_lines
    if torn:
        notes.append(f"{torn} torn line(s) at the end of the history or its parts (a process "
                     "died mid-write) were left out.")
    summary = build_summary(
        run_id=root.resolve().name, kind="check", command=spec.command,
        verdict=name,  # type: ignore[arg-type]
        target=f"evidence {root.resolve().name}", parts={"evidence": {"dir": str(root)}}, seed=None,
        started=started, duration_s=time.monotonic() - clock,
        checks=[r.to_dict() for r in results],
        stats=combine_evidence_stats(judged.tallies),
        faults=read_faults(root / "faults.jsonl"), notes=notes,
    )
    write_summary(root, summary)
    return root, summary


__all__ = ["CheckSpec", "check", "merge_evidence"]
