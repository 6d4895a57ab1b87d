"""Running the model: search for the core invariant first, then for any checker; shrink; judge."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import seed as hypothesis_seed
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition, InvalidDefinition
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from harness.checkers import CheckResult
from harness.checkers.registry import per_example
from harness.checkers.suite import run_all
from harness.hypothesis_profiles import profile
from harness.model.cause import Cause, diagnose
from harness.model.checks import CheckTally, PaymentViolation, evidence_of, headline
from harness.model.environment import (
    Environment,
    EnvironmentFailure,
    Example,
    SecondaryFound,
    TimeBudgetSpent,
)
from harness.model.machine import PaymentModel, model_for
from harness.model.minimize import minimize
from harness.model.program import program_from_notes
from harness.targets.registry import quiet_provider_logs
from harness.targets.spec import TargetSpec

DEFAULT_STEPS = 8
# Hypothesis shrinks for at most this long; payrace's own step deletion finishes the job.
SHRINK_SECONDS = 12


@dataclass
class ExploreResult:
    """What one exploration found: the verdict, the checks, and the counterexample if any."""

    verdict: str  # verified | violation | inconclusive
    checks: list[CheckResult]
    stats: dict[str, Any]
    reason: str
    violation: PaymentViolation | None = None
    example: Example | None = None
    program: list[str] = field(default_factory=list)
    cause: Cause | None = None
    flaky: bool = False


def _violations(exc: BaseException) -> Iterator[PaymentViolation]:
    if isinstance(exc, PaymentViolation):
        yield exc
    for inner in getattr(exc, "exceptions", ()):
        yield from _violations(inner)


@contextlib.contextmanager
def _shrink_budget(seconds: float) -> Iterator[None]:
    """Cap Hypothesis's shrinking time (its default is five minutes: an age, at 0.1 s a run).

    No public setting does this: Hypothesis keeps the shrinker's time limit out of its
    settings on purpose (HypothesisWorks/hypothesis#3243) and its engine names this constant
    as the one to patch. While set, it holds for every exploration in the process.
    """
    from hypothesis.internal.conjecture import engine

    # Internal, so guarded: without the constant Hypothesis just shrinks for longer.
    if not hasattr(engine, "MAX_SHRINKING_SECONDS"):
        yield
        return
    saved = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = saved


def _run_once(
    env: Environment, *, max_examples: int, steps: int, seed: int | None, base: str
) -> None:
    model = model_for(env)

    def factory() -> PaymentModel:
        return model()

    overrides: dict[str, Any] = {"max_examples": max_examples, "stateful_step_count": steps}
    if seed is not None:
        # An explicit seed decides the run; otherwise the profile does (ci: derandomized).
        overrides["derandomize"] = False
        factory = hypothesis_seed(seed)(factory)

    # Hypothesis's own reports (the program, shrinking notices) go to the environment's
    # capture, not the terminal: payrace prints the counterexample itself.
    with with_reporter(lambda text: env.capture.append(str(text))):
        run_state_machine_as_test(
            factory,  # type: ignore[arg-type]  # any factory of machines will do
            settings=profile(base, **overrides),
        )


def _search(
    env: Environment, *, judge_teardown: bool, max_examples: int, steps: int,
    seed: int | None, base: str, shrink_seconds: float,
) -> BaseException | None:
    """One Hypothesis run; the failure it ended with (holding violations), or None."""
    env.judge_teardown = judge_teardown
    try:
        with _shrink_budget(shrink_seconds):
            _run_once(env, max_examples=max_examples, steps=steps, seed=seed, base=base)
    except (TimeBudgetSpent, EnvironmentFailure, SecondaryFound):
        raise
    except Exception as exc:
        # Hypothesis may wrap our stop signals (e.g. as an inconsistent-data error): unwrap.
        for cause in _chain(exc):
            if isinstance(cause, TimeBudgetSpent | SecondaryFound):
                raise cause from None
            if isinstance(cause, EnvironmentFailure):
                raise cause.error from None
            if isinstance(cause, InvalidDefinition) and "progress" in str(cause):
                # Every rule's precondition failed: the target stopped creating payments.
                raise TargetStalled(env.last, env.connections_dropped > 0) from None
            if isinstance(cause, FlakyStrategyDefinition) and not any(_violations(exc)):
                # A foreign target answered a replayed example differently (a create that
                # failed once succeeds now): Hypothesis cannot go on, what ran stands.
                raise SearchCutShort(str(cause).splitlines()[0]) from None
        if not any(True for _ in _violations(exc)):
            raise
        return exc
    return None


class SearchCutShort(Exception):
    """Hypothesis stopped early because the target is not deterministic under replay."""


class TargetStalled(Exception):
    """No step could run any more: every payment creation in the example failed."""

    def __init__(self, example: Example | None, dropped: bool = False) -> None:
        super().__init__("the target stopped creating payments")
        self.example = example
        self.dropped = dropped  # payrace had terminated the target's database connections

    def reason(self) -> str:
        example = self.example
        if example is None:
            return "the target stopped creating payments; nothing more could be explored"
        ops = [op for op in example.recorder.ops() if op.f == "create" and op.type != "invoke"]
        failed = [op for op in ops if op.type != "ok"]
        last = failed[-1] if failed else None
        said = ""
        if last is not None and last.error:
            said = f" (last answer: {last.error.get('message') or last.error.get('kind')})"
        hint = (
            " after payrace terminated its database connections: its connection pool does "
            "not recover from a dropped connection"
            if self.dropped
            else ""
        )
        return (
            f"the target stopped creating payments in example {example.number}: "
            f"{len(failed)} of {len(ops)} POST /payments failed{said}{hint}; "
            "nothing more could be explored"
        )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the members of any group, depth first."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        stack.extend(getattr(current, "exceptions", ()))


def explore(
    env: Environment,
    *,
    max_examples: int,
    seed: int | None,
    steps: int = DEFAULT_STEPS,
    base_profile: str = "dev",
    shrink_seconds: float = SHRINK_SECONDS,
) -> ExploreResult:
    """Search, shrink and judge. Parts that die raise their PayraceError (exit 3).

    Pass 1 fails an example only on no-duplicate-charge, the core invariant, so the
    counterexample is about charging twice whenever the target can. Only when it holds
    but another checker objected somewhere does pass 2 fail on every checker (same seed,
    so the same examples come back, within as many examples as pass 1 ran) to shrink
    that violation instead. --max-time bounds pass 1 only.
    """
    # A failpoint logs a warning in every worker it fires in: noise on the terminal.
    quiet_provider_logs(env.target.spec.kind)
    env.new_run()
    reason = ""
    cut_short = False
    options: dict[str, Any] = {
        "steps": steps, "seed": seed, "base": base_profile, "shrink_seconds": shrink_seconds,
    }
    try:
        failure = _search(env, judge_teardown=False, max_examples=max_examples, **options)
    except EnvironmentFailure as exc:
        raise exc.error from None
    except TimeBudgetSpent:
        failure = None
        reason = f"--max-time reached after {env.stats.examples} examples"
    except SecondaryFound:
        failure = None  # pass 2 shrinks the secondary violation pass 1 saw
    except SearchCutShort as cut:
        failure = None
        cut_short = True
        reason = (
            f"the search stopped after {env.stats.examples} examples: the target answered "
            f"a replayed example differently ({cut}); judged on the examples that ran"
        )
    except TargetStalled as stalled:
        work = env.tally.enough_work()
        checks = [*env.tally.results(), work]
        return ExploreResult(
            "inconclusive", checks, env.stats.as_dict(), stalled.reason(),
            example=stalled.example,
        )
    seen = env.first_violating
    if failure is None and cut_short and seen is not None and seen.violation is not None:
        # A violation happened, then the search stopped on a replay that went otherwise:
        # a timing-dependent double charge is still a double charge, never a pass.
        return _violation_result(env, seen.violation, seen, [], flaky=True)
    if failure is None and env.secondary_example is not None:
        first, first_tally = env.secondary_example, env.tally
        env.tally = CheckTally()
        again = min(max_examples, env.stats.examples + 5)
        try:
            failure = _search(env, judge_teardown=True, max_examples=again, **options)
        except EnvironmentFailure as exc:
            raise exc.error from None
        except SearchCutShort:
            failure = None
        if failure is None and first.violation is not None:
            # It did not come back: report what was seen, unshrunk, rather than a pass.
            env.tally = first_tally
            return _violation_result(env, first.violation, first, [], flaky=True)
    if failure is not None:
        found = list(_violations(failure))
        best = headline([v.result for v in found])
        violation = next((v for v in found if v.result is best), found[0])
        program = program_from_notes(getattr(violation, "__notes__", []) or [])
        if not program:
            program = program_from_notes(getattr(failure, "__notes__", []) or [])
        return _violation_result(
            env, violation, violation.example, program, flaky=isinstance(failure, FlakyFailure)
        )
    late = _late_duplicates(env)
    if late is not None:
        return late
    work = env.tally.enough_work()
    checks = [*env.tally.results(), work]
    examples = env.tally.examples
    if work.validity != "valid" or _stopped_creating(env):
        # Examples that could create nothing hold every invariant trivially: a target that
        # died mid-search (half its creates or more failed, or its last ones) is never
        # vouched for.
        return ExploreResult("inconclusive", checks, env.stats.as_dict(), _too_little(env, work))
    gone = target_gone(env.target.spec)
    if gone:  # it died in the last examples, too late for its creates to say so
        return ExploreResult("inconclusive", checks, env.stats.as_dict(), gone)
    if cut_short and examples < max_examples // 2:
        # Too few of the asked examples ran to vouch for the target.
        return ExploreResult("inconclusive", checks, env.stats.as_dict(), reason)
    reason = reason or f"{examples} examples held every invariant"
    return ExploreResult("verified", checks, env.stats.as_dict(), reason)


# POST /payments failing in a row at the end of a search that say the target stopped creating
# payments, however many held before: a few examples' worth, more than a database connection
# kill costs a target whose pool recovers.
STOPPED_AFTER = 10


def _stopped_creating(env: Environment) -> bool:
    """The target stopped creating payments: half the run's POST /payments or more failed, or
    the last STOPPED_AFTER of them did (it died late in the search)."""
    stats = env.stats
    return (stats.creates_failed > 0 and stats.creates_failed * 2 >= stats.creates) or (
        stats.creates_failed_last >= STOPPED_AFTER)


def target_gone(spec: TargetSpec) -> str:
    """Why the target is gone at the end of a search ("" when it is not, or cannot tell):
    an HTTP target that no longer accepts connections died mid-search, however few of the
    examples after it noticed. (An in-process target cannot be gone: its creates say it.)"""
    url = spec.url
    if url is None:
        return ""
    from harness.runner.stack import is_up

    if is_up(url, timeout=5.0):  # a busy service still accepts at once; a dead one refuses
        return ""
    return (f"the target stopped answering: nothing accepts connections at {url} any more, so "
            "the last examples may have tested nothing; judged on the examples that ran, it "
            "is not vouched for")


def _too_little(env: Environment, work: CheckResult) -> str:
    """Why a run did too little: enough-work's count, and a target that stopped creating."""
    stats = env.stats
    if not _stopped_creating(env):
        return work.summary
    hint = (
        " after payrace terminated its database connections: its connection pool does not "
        "recover from a dropped connection"
        if env.connections_dropped
        else ""
    )
    failed = (f"its last {stats.creates_failed_last} POST /payments failed "
              f"({stats.creates_failed} of {stats.creates} in all)"
              if stats.creates_failed_last >= STOPPED_AFTER
              else f"{stats.creates_failed} of {stats.creates} POST /payments failed")
    return f"{work.summary}; the target stopped creating payments: {failed}{hint}"


def _late_duplicates(env: Environment) -> ExploreResult | None:
    """A foreign target may charge an earlier example's payment after that example was judged
    (its background work outlived the settle budget): the run's whole ledger is judged last."""
    if not env.background:
        return None
    from harness.checkers import Evidence
    from harness.checkers.no_duplicate_charge import check_no_duplicate_charge
    from harness.history import HistoryRecorder
    from harness.model.checks import violation_type

    ledger = env.run_ledger()
    result = check_no_duplicate_charge(Evidence(history=[], ledger=ledger))
    if result.validity != "invalid":
        return None
    charged = {v.payment_id for v in result.violations}
    example = Example(0, HistoryRecorder(env.scratch / "late-history.jsonl"), time.monotonic())
    example.ledger = [e for e in ledger if e.get("payment_id") in charged]
    example.payments = sorted(p for p in charged if p is not None)
    example.recorder.close()
    violation = violation_type(result.checker)(result, [result])
    violation.example = example
    reason = (
        f"{violation} — the second charge came from the target's background work after "
        "payrace had judged that payment's example (it outlived --settle); found by judging "
        "the run's whole ledger at the end, so it is not shrunk"
    )
    checks = [result, *(r for r in env.tally.results() if r.checker != result.checker)]
    return ExploreResult(
        "violation", checks, env.stats.as_dict(), reason, violation=violation, example=example,
    )


def _violation_result(
    env: Environment,
    violation: PaymentViolation,
    example: Example | None,
    program: list[str],
    *,
    flaky: bool,
) -> ExploreResult:
    if example is None:
        example = env.last  # the last example Hypothesis ran: its replay of the failure
    if program and not flaky:
        smaller, replayed = minimize(env, program, violation.result.checker)
        if replayed is not None and replayed.example is not None:
            program, violation, example = smaller, replayed, replayed.example
    if example is not None and example.db is None:
        example.db = env.snapshot_for(example)
        if example.db is None:
            # No snapshot offered: the target's own reads are its view, as when settling.
            rows = env.call(env.target.read_rows, list(example.payments))
            example.db = [rows[pid] for pid in example.payments if pid in rows]
        if example is env.last:  # its ledger is still the stand-in's: read it after the view
            env.sync_ledger(example)
    checks: list[CheckResult] = list(violation.results)
    suite = per_example(env.config.checkers)
    if example is not None and {r.checker for r in checks} != set(suite):
        # The invariant stopped the example mid-way: judge what it left with every checker.
        others = run_all(evidence_of(example, reconciled=False), checkers=suite)
        checks = [violation.result, *(r for r in others if r.checker != violation.result.checker)]
    cause = diagnose(example, violation, env.config.workers) if example is not None else None
    reason = str(violation)
    if example is not None and example.provider_only_clock:
        reason += (
            " — found only by moving the provider's clock 25 h (its idempotency keys expired); "
            "the target offers no POST /_admin/clock, so its own clock was not moved. If your "
            "service uses its own clock to stop trusting old keys, offer that endpoint "
            "(docs/TARGETS.md) so payrace moves both"
        )
    if flaky:
        reason += (
            " (it did not reproduce on Hypothesis's replay: the evidence is real, "
            "but the race was not pinned down)"
        )
    return ExploreResult(
        "violation",
        checks,
        env.stats.as_dict(),
        reason,
        violation=violation,
        example=example,
        program=program,
        cause=cause,
        flaky=flaky,
    )
