"""The headline demo: PR #145's own test passes, payrace's scenarios catch it, safe is verified."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import EXIT_INCONCLUSIVE, EXIT_VERIFIED, EXIT_VIOLATION
from harness.provision.postgres import Provisioned
from harness.runner.run import RunResult, execute, write_reports
from harness.runner.spec import RunSpec, check_writable, parse_target, resolve_scenario

TITLE = "PR #145 beside safe: the same load, the same faults"


@dataclass(frozen=True)
class DemoStep:
    """One run of the demo and what the reader should learn from it."""

    scenario: str
    variant: str
    duration_s: float
    users: int
    lesson: str
    min_charges: int = 20
    env: dict[str, str] = field(default_factory=dict)


# Short on purpose: the whole demo fits in two minutes on two cores.
PLAN: tuple[DemoStep, ...] = (
    DemoStep("pr_proof", "pr145", 15.0, 1, min_charges=1,
             lesson="the PR's own proof (100 concurrent requests, one payment, no faults) passes"),
    DemoStep("double_click", "pr145", 6.0, 8,
             lesson="FOR UPDATE does serialise concurrent clicks"),
    DemoStep("retry_storm", "pr145", 9.0, 8,
             lesson="a lost response plus a client retry charges the card twice"),
    DemoStep("double_click", "safe", 6.0, 8,
             lesson="the same clicks: one charge each"),
    DemoStep("retry_storm", "safe", 9.0, 8,
             lesson="the same lost responses: every retry replays the first charge"),
)


@dataclass
class DemoOutcome:
    """The demo's runs, its comparison page and whether it told the story."""

    results: list[tuple[DemoStep, RunResult]]
    page: Path | None
    exit_code: int
    headline: str
    seconds: float


def spec_for(step: DemoStep, out_dir: Path, seed: int, progress: bool) -> RunSpec:
    path = resolve_scenario(step.scenario)
    return RunSpec(scenario=step.scenario, scenario_path=path,
                   target=parse_target(f"reference:{step.variant}"), users=step.users,
                   spawn_rate=float(step.users), duration_s=step.duration_s, seed=seed,
                   out_dir=out_dir, min_charges=step.min_charges, scenario_env=dict(step.env),
                   progress=progress, write_report=False)


def judge_demo(results: list[tuple[DemoStep, RunResult]]) -> tuple[int, str]:
    """0 when pr145 is caught and every safe run verified; else the worst honest code."""
    caught = [s for s, r in results if s.variant == "pr145" and r.verdict == "violation"]
    safe = [(s, r) for s, r in results if s.variant == "safe"]
    unsafe = [s for s, r in safe if r.verdict == "violation"]
    unsure = [s for s, r in safe if r.verdict == "inconclusive"]
    if unsafe:
        names = ", ".join(s.scenario for s in unsafe)
        return EXIT_VIOLATION, f"safe had a violation under {names}: see its report"
    if unsure:
        return EXIT_INCONCLUSIVE, (f"safe was inconclusive under "
                                   f"{', '.join(s.scenario for s in unsure)}: too little work")
    if not caught:
        return EXIT_VIOLATION, "pr145 was not caught this time: the demo did not show its flaw"
    return EXIT_VERIFIED, (f"pr145 caught by {', '.join(s.scenario for s in caught)}; "
                           "safe verified under the same load and faults")


def run_demo(out_dir: Path, *, seed: int = 0, progress: bool = True,
             plan: tuple[DemoStep, ...] = PLAN, server: Provisioned | None = None,
             on_result: Callable[[DemoStep, RunResult], None] | None = None) -> DemoOutcome:
    """Run every step against one shared PostgreSQL; write `<out_dir>/demo/index.html`.

    `server`: a PostgreSQL server already running; by default the demo starts its own.
    """
    from harness.provision.postgres import provision_postgres
    from harness.report import write_comparison

    check_writable(out_dir)
    started = time.monotonic()
    results: list[tuple[DemoStep, RunResult]] = []
    with contextlib.ExitStack() as stack:
        if server is None:
            server = stack.enter_context(provision_postgres())
        for step in plan:
            result = execute(spec_for(step, out_dir, seed, progress), server)
            results.append((step, result))
            if on_result is not None:
                on_result(step, result)
    for _, result in results:
        write_reports(result.run_dir, out_dir)
    code, headline = judge_demo(results)
    try:
        page: Path | None = write_comparison(out_dir / "demo", [r.run_dir for _, r in results],
                                             TITLE)
    except Exception as exc:  # the verdicts stand; a page that cannot render is said plainly
        page = None
        headline += f"; but the comparison page could not be written ({exc})"
        code = code or EXIT_VIOLATION
    return DemoOutcome(results, page, code, headline, round(time.monotonic() - started, 1))
