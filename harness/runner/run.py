"""One `payrace run`: provision → load → stop → quiesce → reconcile → collect → check → report."""

from __future__ import annotations

import contextlib
import csv
import shutil
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.checkers import CheckResult, Evidence, compose, run_all, standard_checkers, verdict
from harness.errors import ProvisionError
from harness.history import Op, Pairing, pair_operations
from harness.ledger import is_money_charge
from harness.provision.postgres import Provisioned
from harness.runner.drive import LoadOutcome, drive
from harness.runner.evidence import (
    collect_history,
    created_payments,
    ledger_since,
    quiesce,
    read_faults,
    reconcile,
    settle_and_view,
)
from harness.runner.progress import ProgressView
from harness.runner.spec import RunSpec, check_writable, scenario_families
from harness.runner.stack import provisioned
from harness.runs import (
    build_summary,
    create_run_dir,
    new_run_id,
    write_db,
    write_ledger,
    write_summary,
)
from harness.targets.abilities import coverage, coverage_lines
from harness.targets.settle import Settled
from harness.targets.view import scope_ledger


@dataclass
class RunResult:
    """What a finished run produced: its directory, verdict, exit code and summary."""

    run_dir: Path
    verdict: str
    exit_code: int
    summary: dict[str, Any]


def hold_seconds(faults: Sequence[dict[str, Any]]) -> float:
    """The longest the scenario's armed faults may hold one provider response (`hang_after`)."""
    longest = 0.0
    for entry in faults:
        for rule in entry.get("rules") or []:
            if isinstance(rule, dict) and rule.get("action") == "hang_after":
                longest = max(longest, float(rule.get("ms") or 10_000) / 1000.0
                              + float(rule.get("jitter_ms") or 0) / 1000.0)
    return longest


def execute(spec: RunSpec, server: Provisioned | None = None) -> RunResult:
    """Run one scenario against one target and judge it; raises PayraceError for exit 2 / 3.

    `server`: a PostgreSQL server already running, shared by several runs (the demo).
    """
    check_writable(spec.out_dir)
    run_id = spec.run_id or new_run_id("run")
    started_at = datetime.now(UTC)
    title = f"{spec.scenario} → {spec.target.label}"
    db: list[dict[str, Any]] | None = None
    reconciled: dict[str, Any] | None = None
    quiet: dict[str, Any] = {}
    created: set[str] | None = None
    # Before the parts start: the stand-in writes its ledger there as it goes, so a payrace
    # killed at any moment leaves the ledger beside the history (`payrace check` judges them).
    run_dir = create_run_dir(run_id, spec.out_dir)
    with contextlib.ExitStack() as exits:
        try:
            stack = exits.enter_context(
                provisioned(spec, server, journal=run_dir / "ledger.jsonl"))
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: no evidence to keep
            raise
        # t=0 of the history is when the load starts, not when PostgreSQL did.
        origin = time.monotonic()
        history = run_dir / "history.jsonl" if spec.record else None
        faults_path = run_dir / "faults.jsonl"
        with ProgressView(title, spec.duration_s, enabled=spec.progress) as view:
            users = f"{spec.users} user{'s' if spec.users != 1 else ''}"
            view.say(f"payrace run {title}: {users} for up to {spec.duration_s:g}s "
                     f"(run {run_id})")
            plan = coverage(stack.abilities, scenario_families(spec.scenario_path), spec.settle_s)
            for line in coverage_lines(plan):
                view.say(line)
            load = drive(spec, stack, run_dir, history, faults_path, origin, view)
            provider_gone = standin_gone(stack)
            # A dead target or provider cannot be quiesced, reconciled or settled.
            alive = not load.target_died and provider_gone is None
            settled: Settled | None = None
            if alive:
                view.say("Load stopped; quiescing the target and letting it settle…")
                quiet = quiesce(stack, hold_s=hold_seconds(read_faults(faults_path)))
                if stack.abilities.reconcile:
                    reconciled = reconcile(stack, history, origin)
            ops = collect_history(history)
            created = created_payments(ops) if spec.record else None
            if alive:
                settled, db = settle_and_view(stack, created, spec.settle_s)
                settled.reconcile = reconciled
        try:
            ledger = ledger_since(stack) if provider_gone is None else None
        except ProvisionError as exc:  # it died after the load: what it journalled stands
            provider_gone = str(exc)
            ledger = None
        if ledger is None:
            ledger = journalled_ledger(run_dir / "ledger.jsonl", stack.ledger_cursor)
        parts = dict(stack.parts)
    foreign = 0
    if created is not None:
        # A long-lived service may still be finishing an earlier run's payments.
        ledger, foreign = scope_ledger(ledger, created)
    write_ledger(run_dir, ledger)
    if db is not None:
        write_db(run_dir, db)
    cov = coverage(stack.abilities, scenario_families(spec.scenario_path), spec.settle_s)
    if settled is not None:
        cov["settled"] = settled.as_dict()
    result = judge(spec, run_id, run_dir, started_at, origin, parts, load, ops, ledger, db,
                   reconciled, quiet, read_faults(faults_path), settled=settled,
                   coverage=cov, foreign=foreign, provider_gone=provider_gone)
    if spec.write_report:
        write_reports(run_dir, spec.out_dir, spec.junit)
    return result


def judge(spec: RunSpec, run_id: str, run_dir: Path, started_at: datetime, origin: float,
          parts: dict[str, Any], load: LoadOutcome, ops: Sequence[Op],
          ledger: list[dict[str, Any]], db: list[dict[str, Any]] | None,
          reconciled: dict[str, Any] | None, quiet: dict[str, Any],
          faults: list[dict[str, Any]], *, settled: Settled | None = None,
          coverage: dict[str, Any] | None = None, foreign: int = 0,
          provider_gone: str | None = None) -> RunResult:
    """Run the checkers on the evidence and write summary.json and junit.xml."""
    did_reconcile = reconciled is not None and "error" not in reconciled
    evidence = Evidence(history=list(ops), ledger=ledger, db=db,
                        reconciled=did_reconcile or settled is not None,
                        settled_how=settled.describe() if settled is not None else None)
    suite = standard_checkers(spec.min_charges, extra=spec.checkers)
    results = list(run_all(evidence, checkers=suite))
    notes: list[str] = []
    if load.target_died:
        died = (f"The target died {load.died_at_s}s into the load; the run judged what it saw "
                "before that, without quiescing or reconciling.")
        notes.append(died)
        # What was seen may be clean, but a run cut short cannot vouch for the target: this
        # check keeps a clean-looking run inconclusive in the verdict, the report and JUnit.
        results.append(CheckResult(checker="target-alive", validity="unknown", summary=died,
                                   stats={"died_at_s": load.died_at_s}))
    if provider_gone is not None:
        gone = (f"{provider_gone}. Its ledger up to then was read from its journal; the run "
                "judged that, without quiescing, reconciling or settling, and cannot vouch "
                "for what the provider did after.")
        notes.append(gone)
        # The provider's ledger is the ground truth for money: a run that lost it is never
        # verified, however clean what was seen looks.
        results.append(CheckResult(checker="standin-alive", validity="unknown", summary=gone))
    name, _ = verdict(compose(results))
    if provider_gone is not None:
        pass  # said above: nothing was read back from the target
    elif db is None and not load.target_died:
        notes.append("No database view: recording was off, so payrace knows no payment to "
                     "read back, and db-consistency could not be judged.")
    elif coverage is not None:
        notes.append(f"Database view: {coverage.get('database_view')}.")
    if settled is not None and not settled.done:
        notes.append(f"{len(settled.unsettled)} payment(s) had not settled after payrace "
                     f"waited {settled.budget_s:g} s for the target to settle (--settle); they "
                     "are judged as they stand.")
    clock = next((f for f in (coverage or {}).get("faults", []) if f.get("family") == "clock"),
                 None)
    if name == "violation" and clock is not None and not (coverage or {}).get(
            "abilities", {}).get("clock"):
        notes.append("The provider's clock was moved 25 h during this run (its idempotency keys "
                     "expired) but not the service's own: it offers no POST /_admin/clock. If "
                     "your service uses its own clock to stop trusting old keys, offer that "
                     "endpoint (docs/TARGETS.md) so payrace moves both.")
    if foreign:
        notes.append(f"{foreign} ledger entries for payments this run did not create (an earlier "
                     "run's, still being worked on by the service) were left out of the evidence.")
    if not spec.record:
        notes.append("Recording was off (benchmark mode): the history is empty.")
    parts["load"] = {"tier": "locust", "version": _version("locust"),
                     "processes": spec.processes, "users": spec.users}
    summary = build_summary(
        run_id=run_id, kind="run", command=spec.reproduce(), verdict=name,  # type: ignore[arg-type]
        target=spec.target.label, parts=parts, seed=spec.seed, started=started_at,
        duration_s=time.monotonic() - origin, checks=[r.to_dict() for r in results],
        stats=run_stats(ops, ledger, load, run_dir), faults=faults,
        scenario=spec.scenario,
        load={"users": spec.users, "spawn_rate": spec.spawn_rate, "duration_s": spec.duration_s,
              "processes": spec.processes, "elapsed_s": load.elapsed_s,
              "locust_exit": load.locust_exit,
              **({"until_charges": spec.until_charges,
                  "charged_enough_at_s": load.charged_enough_at_s}
                 if spec.until_charges is not None else {})},
        target_died={"at_s": load.died_at_s} if load.target_died else False,
        reconcile=reconciled, quiesce=quiet, notes=notes, coverage=coverage,
    )
    write_summary(run_dir, summary)
    return RunResult(run_dir, name, int(summary["exit_code"]), summary)


def standin_gone(stack: Any) -> str | None:
    """Why the stand-in no longer answers (it died during the load), or None while it does."""
    try:
        stack.admin.health()
    except Exception as exc:
        return f"The Stripe stand-in stopped answering during the run ({exc})"
    return None


def journalled_ledger(path: Path, cursor: int) -> list[dict[str, Any]]:
    """This run's entries of the stand-in's journal (`--ledger-journal`), under the torn-line
    rule: a stand-in killed mid-line leaves its last line torn. None journalled: empty."""
    if not path.is_file():
        return []
    from harness.jsonl import read_jsonl

    return [entry for entry in read_jsonl(path, "ledger entry")
            if int(entry.get("seq") or 0) > cursor]


def evidence_stats(ops: Sequence[Op], ledger: Sequence[Mapping[str, Any]],
                   pairing: Pairing | None = None) -> dict[str, Any]:
    """What the evidence alone counts: operations, outcomes, payments, charges, duplicates.

    `pairing` is `ops` paired, when the caller has it already.
    """
    operations = (pairing or pair_operations(ops)).operations
    # Counted by (f, outcome) tuples, named after: a million f-strings cost more than the
    # count. An outcome holds no ":", so distinct tuples keep distinct names.
    counted: Counter[tuple[str, str]] = Counter(
        (invoke.f, "info" if done is None else done.type) for invoke, done in operations)
    outcomes = {f"{f}:{outcome}": n for (f, outcome), n in counted.items()}
    per_payment: Counter[str] = Counter()
    charges = requests = 0
    for entry in ledger:  # one pass: a ten-million-op run's ledger holds millions
        kind = entry.get("kind")
        if kind == "request":
            requests += 1
        elif kind == "charge" and is_money_charge(entry):
            charges += 1
            per_payment[str(entry.get("payment_id"))] += 1
    return {
        "operations": len(operations),
        "outcomes": dict(sorted(outcomes.items())),
        "payments": counted[("create", "ok")],
        "charges": charges,
        "charged_payments": len(per_payment),
        "duplicated_payments": sum(1 for n in per_payment.values() if n > 1),
        "provider_requests": requests,
    }


def evidence_tally(evidence: Evidence) -> dict[str, Any]:
    """evidence_stats of one partition's evidence, reusing the pairing its checkers built."""
    return evidence_stats(evidence.history, evidence.ledger, evidence.pairing)


def combine_evidence_stats(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """evidence_stats of a whole run from those of its partitions (a payment is in one)."""
    outcomes: Counter[str] = Counter()
    for part in parts:
        outcomes.update(part["outcomes"])
    keys = ("operations", "payments", "charges", "charged_payments", "duplicated_payments",
            "provider_requests")
    totals = {key: sum(int(part[key]) for part in parts) for key in keys}
    return {"operations": totals["operations"], "outcomes": dict(sorted(outcomes.items())),
            **{key: totals[key] for key in keys[1:]}}


def run_stats(ops: Sequence[Op], ledger: list[dict[str, Any]], load: LoadOutcome,
              run_dir: Path) -> dict[str, Any]:
    """Counts the report and the benchmark read: the evidence's, then the load's throughput."""
    stats = evidence_stats(ops, ledger)
    seconds = max(load.elapsed_s, 1e-9)
    stats.update({"load_s": load.elapsed_s,
                  "charges_per_s": round(stats["charges"] / seconds, 2)})
    stats.update(_locust_totals(run_dir / "locust_stats.csv"))
    return stats


def _locust_totals(path: Path) -> dict[str, Any]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return {}
    for row in rows:
        if row.get("Name") == "Aggregated":
            try:
                return {"requests": int(row.get("Request Count") or 0),
                        "request_failures": int(row.get("Failure Count") or 0),
                        "requests_per_s": round(float(row.get("Requests/s") or 0.0), 2),
                        "p50_ms": float(row.get("50%") or 0), "p99_ms": float(row.get("99%") or 0)}
            except ValueError:
                return {}
    return {}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def write_reports(run_dir: Path, reports_root: Path | None, junit: Path | None = None) -> None:
    """index.html and junit.xml of the run (harness.report), the reports index (unless
    `reports_root` is None), and --junit."""
    from harness.report import write_report, write_reports_index

    # The verdict and exit code are already on disk; a page that fails to render is said
    # loudly but does not change what the run found, and CI still gets its junit.xml.
    try:
        write_report(run_dir)
    except Exception as exc:
        print(f"payrace: could not write the HTML report for {run_dir}: {exc}", file=sys.stderr)
        from harness.report.data import build_report
        from harness.report.junit import write_junit
        from harness.report.rundir import read_run

        write_junit(build_report(read_run(run_dir)), run_dir / "junit.xml")
    if reports_root is not None:
        try:
            write_reports_index(reports_root)
        except Exception as exc:
            print(f"payrace: could not update {reports_root / 'index.html'}: {exc}",
                  file=sys.stderr)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / "junit.xml", junit)
