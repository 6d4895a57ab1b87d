"""The model's world: target, stand-in, settings and per-example evidence of one exploration."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness.between_examples import mark_resetting, unmark_resetting
from harness.checkers.registry import CheckerEntry
from harness.errors import PayraceError
from harness.history import HistoryRecorder
from harness.jsonl import encode_line, write_jsonl
from harness.ledger import is_money_charge
from harness.ledger_behind import remove_mark, write_mark
from harness.model.checks import CheckTally, PaymentViolation
from harness.model.targets import Target
from harness.nemesis.registry import FAMILY_NAMES
from harness.stripe_standin import StandinAdmin
from harness.targets.settle import EXPLORE_SETTLE_S, Settled
from harness.targets.standin import drain_webhooks, entries_since, ledger_end
from harness.targets.view import scope_ledger

FAULT_FAMILIES = FAMILY_NAMES  # every family the nemesis registry knows, in its order
MAX_CONCURRENCY = 8
# Webhook deliveries: how long a step waits for those it caused, and how long any wait
# follows retries of deliveries the service answered with an error.
STEP_DRAIN_S = 2.0
RETRY_DRAIN_S = 1.5

T = TypeVar("T")


class EnvironmentFailure(BaseException):
    """A real part stopped working mid-run (stand-in, database): abort, never shrink it.

    A BaseException so that Hypothesis does not mistake a dead part for a bug in the target.
    """

    def __init__(self, error: PayraceError) -> None:
        super().__init__(str(error))
        self.error = error


class TimeBudgetSpent(BaseException):
    """--max-time passed before any violation: stop generating examples."""


class SecondaryFound(BaseException):
    """Pass 1 saw only a secondary violation, then SECONDARY_GRACE more examples without a
    double charge: stop searching for one and shrink what was found."""


# Examples pass 1 keeps looking for a double charge after a secondary violation appeared.
SECONDARY_GRACE = 12


@dataclass(frozen=True)
class ModelConfig:
    """Knobs of the model that a run fixes: workers, fault families, and fault timings."""

    workers: int = 2
    faults: frozenset[str] = frozenset(FAULT_FAMILIES)
    max_payments: int = 3
    gate_timeout_ms: int = 5000
    # With requests still outstanding but none arriving at the gate for this long, the
    # rest are blocked behind a held one (a row lock, a process mutex): let the gate open.
    gate_quiet_ms: int = 150
    latency_ms: int = 40
    hang_ms: int = 800
    sleep_ms: int = 30
    # How long an example's end waits for the target's own work (a reconciler's lease).
    settle_s: float = EXPLORE_SETTLE_S
    # The user's own checkers (--checker, entry points): they judge each example too.
    checkers: tuple[CheckerEntry, ...] = ()


@dataclass
class StepRecord:
    """One rule the model ran in an example, for the cause of a violation."""

    index: int
    rule: str
    payment_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    outcomes: list[str] = field(default_factory=list)


@dataclass
class Example:
    """The evidence and bookkeeping of one example (one generated program)."""

    number: int
    recorder: HistoryRecorder
    started: float
    ledger: list[dict[str, Any]] = field(default_factory=list)
    cursor: int = 0
    payments: list[str] = field(default_factory=list)
    created: int = 0
    last_key: dict[str, str | None] = field(default_factory=dict)
    keys_made: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    charge_step: dict[int, int] = field(default_factory=dict)  # ledger seq -> step index
    charges_per_payment: Counter[str] = field(default_factory=Counter)
    rule_counts: Counter[str] = field(default_factory=Counter)
    db: list[dict[str, Any]] | None = None
    aborted: bool = False
    violation: PaymentViolation | None = None
    timed_out: bool = False
    # Set by steps that send charges; an in-process target charges nobody between steps.
    dirty: bool = True
    settled: Settled | None = None
    # Provider-only clock jumps: the target offered no way to move its own clock.
    provider_only_clock: bool = False
    # The example's webhook fault (a `webhooks` step) and its rules, one per payment: re-armed
    # after a step clears its own faults, so they hold for every later event of the example.
    webhook_fault: str | None = None
    webhook_rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def step(self) -> int:
        return len(self.steps)

    def ran(self, rule: str) -> int:
        """How many times `rule` ran in this example so far (for per-example caps)."""
        return self.rule_counts[rule]


@dataclass
class RunStats:
    """Counters the progress display and the summary read while a run goes on."""

    started: float = field(default_factory=time.monotonic)
    examples: int = 0
    steps: int = 0
    charges: int = 0
    requests: int = 0
    violations: int = 0
    first_violation_s: float | None = None
    creates: int = 0
    creates_failed: int = 0
    creates_failed_last: int = 0  # POST /payments failed in a row at the end (0: the last held)

    def reset(self) -> None:
        """Start counting afresh, in place (a progress display may hold this object)."""
        fresh = RunStats()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "steps": self.steps,
            "charges": self.charges,
            "requests": self.requests,
            "violating_examples": self.violations,
            "first_violation_s": self.first_violation_s,
            "creates": self.creates,
            "creates_failed": self.creates_failed,
            "creates_failed_last": self.creates_failed_last,
        }


class Environment:
    """Everything the model touches during one exploration; `model_for(env)` hands it over."""

    def __init__(
        self,
        target: Target,
        standin: StandinAdmin,
        config: ModelConfig,
        scratch: Path,
        *,
        deadline: float | None = None,
        evidence_dir: Path | None = None,
        ledger_journalled: bool = False,
    ) -> None:
        if config.workers != target.workers:
            raise ValueError(f"config.workers={config.workers} but target has {target.workers}")
        self.target = target
        self.standin = standin
        self.config = config
        self.scratch = scratch
        # The run directory, when there is one: the example in progress keeps its history
        # and ledger there as it goes, so a payrace killed mid-example leaves evidence
        # `payrace check` can judge. `ledger_journalled`: payrace's own stand-in appends its
        # ledger there itself (--ledger-journal); else the entries each sync reads are.
        self.evidence_dir = evidence_dir
        self.ledger_journalled = ledger_journalled
        self.deadline = deadline
        self.clients = target.clients()
        self.pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENCY, thread_name_prefix="payrace")
        self.stats = RunStats()
        self.tally = CheckTally()
        self.capture: list[str] = []  # lines Hypothesis reports (the printed programs)
        # False: teardown only tallies the checkers (the search is for the core invariant);
        # True: any checker's violation fails the example and is shrunk.
        self.judge_teardown = True
        self.secondary_seen = 0
        self.secondary_example: Example | None = None  # first example only teardown failed
        # The first example that failed: what is reported if Hypothesis cannot replay it.
        self.first_violating: Example | None = None
        self.current: Example | None = None
        self.last: Example | None = None
        self._lock = threading.Lock()
        # A foreign target keeps its rows and background work between examples, so the
        # stand-in is never reset under it: each example reads the ledger from where it began.
        # A python: target owns its schema and rows too: it is judged the same way.
        self.background = target.spec.kind in ("http", "python")
        self.run_cursor = 0
        self.run_payments: set[str] = set()
        self.connections_dropped = 0  # drop_db_connections steps run so far
        # Whether an endpoint is registered at the stand-in (the target takes webhooks): None
        # until first asked, then fixed, so every replay draws the same faults.
        self._webhooks: bool | None = None

    def new_run(self) -> None:
        """Forget the counts, tallies and failures of a previous exploration in this environment."""
        self.stats.reset()
        self.tally = CheckTally()
        self.secondary_seen = 0
        self.secondary_example = None
        self.first_violating = None
        self.capture.clear()
        self.run_payments.clear()
        if self.background:
            self.run_cursor = self.call(ledger_end, self.standin)

    def webhooks_known(self) -> bool:
        """Whether the target takes webhooks: an endpoint is registered at the stand-in.

        Asked once per environment, before the first example (the model's rules depend on
        it). An in-process target registers its receiver on reset, so the parts are reset
        first; a foreign one registered its own when it started.
        """
        if self._webhooks is None:
            if not self.background:
                self.call(self.standin.reset)
                self.call(self.target.reset)
            self._webhooks = bool(self.call(self.standin.webhooks)["endpoints"])
        return self._webhooks

    @property
    def receives_webhooks(self) -> bool:
        """What webhooks_known() found; False until it was asked."""
        return bool(self._webhooks)

    def enabled(self, family: str) -> bool:
        return family in self.config.faults

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the stand-in or the target's admin; a dead part aborts the run, not the example."""
        try:
            return fn(*args, **kwargs)
        except PayraceError as exc:
            raise EnvironmentFailure(exc) from exc

    def begin_example(self) -> Example:
        """Reset the parts to empty and start recording a fresh example."""
        # Once a violation was seen Hypothesis is shrinking it: let it finish.
        # Pass 2 re-finds what pass 1 saw, in as many examples: it is not cut short either.
        out_of_time = self.deadline is not None and time.monotonic() > self.deadline
        if out_of_time and self.stats.violations == 0 and not self.judge_teardown:
            raise TimeBudgetSpent()
        first = self.secondary_example
        if (
            first is not None
            and not self.judge_teardown
            and self.stats.violations == 0
            and self.stats.examples - first.number >= SECONDARY_GRACE
        ):
            raise SecondaryFound()
        if self.current is not None:
            self.current.recorder.close()  # a replayed program may stop without teardown
        if self.evidence_dir is not None:
            # Until the next example's history and ledger are both in place, a kill would
            # leave one example's history beside another's ledger.
            mark_resetting(self.evidence_dir)
        if self.background:
            # Resetting would hide an earlier example's charge from a service still at work.
            self.call(self.standin.clear_faults)
            cursor = self.call(ledger_end, self.standin)  # one health call, not a ledger read
        else:
            if self.receives_webhooks and self.last is not None:
                # A delivery in flight outlives a reset: let its handler finish first.
                self.drain_webhooks(self.last, retries=False)
            self.call(self.standin.reset)
            self.call(self.target.reset)
            cursor = 0
        self.stats.examples += 1
        if self.evidence_dir is None:
            recorder = HistoryRecorder(self.scratch / "example-history.jsonl")
        else:
            recorder = HistoryRecorder(self.evidence_dir / "history.jsonl")
            if not self.ledger_journalled:
                write_jsonl(self.evidence_dir / "ledger.jsonl", [])
                # The copy may miss what the provider does in the step in flight (or in
                # the background): the mark says which ops each copy covers, for a kill.
                write_mark(self.evidence_dir, 0)
            unmark_resetting(self.evidence_dir)
        for client in self.clients:
            client.recorder = recorder
        example = Example(self.stats.examples, recorder, time.monotonic(), cursor=cursor)
        self.current = example
        self.last = example
        return example

    def sync_ledger(self, example: Example, *, lazy: bool = False) -> list[dict[str, Any]]:
        """Read the ledger entries added since the last read, attributing them to this step.

        `lazy` skips the read when no step since the last one sent anything that can charge
        and the target runs in-process (a foreign HTTP target may charge in the background).
        """
        if lazy and not example.dirty and self.target.spec.kind == "reference":
            return []
        example.dirty = False
        # Every op recorded before the read has its charges in it (a charge is made before
        # the completion recording it); an invoke whose charge comes later is only pending.
        covered = example.recorder.recorded
        # Without a limit one page holds every entry after the cursor.
        page = self.call(self.standin.ledger, example.cursor)
        new: list[dict[str, Any]] = list(page["entries"])
        example.cursor = int(page["next_cursor"])
        if self.background:
            # Only this example's payments: others are earlier examples' or other clients'.
            new, _ = scope_ledger(new, set(example.payments))
        if self.evidence_dir is not None and not self.ledger_journalled and new:
            with (self.evidence_dir / "ledger.jsonl").open("a", encoding="utf-8") as journal:
                journal.writelines(encode_line(entry) for entry in new)
        if self.evidence_dir is not None and not self.ledger_journalled:
            write_mark(self.evidence_dir, covered)
        step = max(example.step - 1, 0)
        for entry in new:
            example.ledger.append(entry)
            if is_money_charge(entry):
                example.charge_step[int(entry["seq"])] = step
                payment_id = entry.get("payment_id")
                example.charges_per_payment[str(payment_id)] += 1
                self.stats.charges += 1
        return new

    def note_payment(self, example: Example, payment_id: str) -> None:
        example.payments.append(payment_id)
        self.run_payments.add(payment_id)

    def run_ledger(self) -> list[dict[str, Any]]:
        """Every ledger entry of the payments this run created, since the run began."""
        entries, _ = self.call(entries_since, self.standin, self.run_cursor)
        kept, _ = scope_ledger(entries, self.run_payments)
        return [e for e in kept if e.get("payment_id") is not None]

    def snapshot_for(self, example: Example) -> list[dict[str, Any]] | None:
        """The target's payments rows of this example only (a foreign database keeps others)."""
        rows = self.call(self.target.snapshot)
        if rows is None:
            return None
        mine = set(example.payments)
        return [row for row in rows if row.get("id") in mine]

    def quiesce(self, example: Example) -> None:
        """Wait until the target can have nothing left in flight for this example.

        A call payrace gave up on (a client timeout) may still be running inside an HTTP
        target; in-process calls have all returned by the time a step ends.
        """
        timed_out = any(
            op.type == "info" and (op.error or {}).get("kind") == "timeout"
            for op in example.recorder.ops()
        )
        if timed_out and self.target.spec.kind == "http":
            time.sleep(self.config.hang_ms / 1000.0 + 0.2)

    def drain_webhooks(self, example: Example, *, step: bool = False, retries: bool = True
                       ) -> None:
        """Wait for the deliveries the stand-in owes this example's payments: a handler still
        to run may record an outcome, or charge again. After a step, briefly and first
        attempts only; at the example's end within the settle budget, and retries of
        deliveries the service failed for RETRY_DRAIN_S: enough for the redeliveries a
        handler may act on again, not a dead receiver's whole backoff, every step."""
        if not self.receives_webhooks or not example.payments:
            return  # no payment of this example: nothing owed is ours to wait for
        budget = min(STEP_DRAIN_S, self.config.settle_s) if step else self.config.settle_s
        retry_budget = RETRY_DRAIN_S if retries and not step else 0.0
        self.call(drain_webhooks, self.standin, budget, retry_budget_s=retry_budget,
                  payment_ids=example.payments)

    def note_violation(self, example: Example) -> None:
        with self._lock:
            self.stats.violations += 1
            if self.first_violating is None:
                self.first_violating = example
        self.note_found()

    def note_found(self) -> None:
        """The first time any violation was seen, shrunk yet or not (time to first violation)."""
        with self._lock:
            if self.stats.first_violation_s is None:
                self.stats.first_violation_s = time.monotonic() - self.stats.started

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self.current is not None:
            self.current.recorder.close()
        if self.evidence_dir is not None:
            remove_mark(self.evidence_dir)  # ended, not killed: no copy is behind
            unmark_resetting(self.evidence_dir)  # a reset that failed ended the run

