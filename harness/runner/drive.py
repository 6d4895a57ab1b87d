"""The load phase: run Locust for the asked duration, show progress, notice a target that dies."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.adapters.load import ENV_ADAPTER
from harness.errors import ProvisionError
from harness.provision.pg_control import ENV_POSTGRES_CONTROL
from harness.runner.load import LocustProcess, locust_command, locust_env
from harness.runner.progress import (
    DuplicateWatch,
    OpCounter,
    ProgressView,
    RateMeter,
    requests_per_second,
)
from harness.runner.spec import RunSpec
from harness.runner.stack import Stack, is_up

POLL_S = 0.5
# Consecutive failed health probes (POLL_S apart) before the target counts as dead.
DEAD_AFTER = 4
# Locust gets this long past the duration to stop its users and write its CSVs.
OVERRUN_S = 30.0


@dataclass
class LoadOutcome:
    """How the load phase ended."""

    elapsed_s: float
    locust_exit: int
    target_died: bool = False
    died_at_s: float | None = None
    operations: int = 0
    duplicates_seen: int = 0
    # --until-charges: when the provider had charged that many payments and the load stopped.
    charged_enough_at_s: float | None = None


def _alive(stack: Stack) -> bool:
    if stack.service_pid is not None and not psutil.pid_exists(stack.service_pid):
        return False
    return is_up(stack.target_url, timeout=1.0)


def drive(spec: RunSpec, stack: Stack, run_dir: Path, history: Path | None, faults: Path,
          origin: float, view: ProgressView) -> LoadOutcome:
    """Run the scenario headless against the stack until it ends, the duration passes or the
    target dies; Locust's output goes to `<run_dir>/locust.log`."""
    extra = {}
    if stack.service_pid is not None:
        extra["PAYRACE_SERVICE_PID"] = str(stack.service_pid)
    if stack.database_url is not None:
        extra["PAYRACE_DATABASE_URL"] = stack.database_url
    if stack.postgres is not None:
        extra[ENV_POSTGRES_CONTROL] = stack.postgres.to_text()
    if stack.abilities.clock:
        extra["PAYRACE_TARGET_CLOCK"] = "1"
    if spec.adapter:
        extra[ENV_ADAPTER] = spec.adapter
    env = locust_env(spec, history=history, faults=faults, standin_url=stack.stripe_url,
                     origin=origin, extra=extra)
    locust = LocustProcess(locust_command(spec, stack.target_url, run_dir), env,
                           run_dir / "locust.log")
    counter = OpCounter(history)
    watch = DuplicateWatch(stack.admin, stack.ledger_cursor)
    meter = RateMeter()
    started = time.monotonic()
    misses, outcome = 0, LoadOutcome(0.0, 0)
    try:
        while locust.poll() is None:
            elapsed = time.monotonic() - started
            misses = 0 if _alive(stack) else misses + 1
            if misses >= DEAD_AFTER:
                outcome.target_died, outcome.died_at_s = True, round(elapsed, 3)
                view.say(f"The target {stack.target_url} stopped answering at {elapsed:.1f}s; "
                         "stopping the load and judging what was seen.")
                break
            if elapsed > spec.duration_s + OVERRUN_S:
                view.say("Locust did not stop on time; stopping it.")
                break
            note = "stopping…" if elapsed > spec.duration_s else ""
            operations = counter.count()
            rate = (meter.add(elapsed, operations) if history is not None
                    else requests_per_second(run_dir / "locust_stats_history.csv"))
            view.update(elapsed, rate, operations, watch.poll(), note)
            if spec.until_charges is not None and watch.charged >= spec.until_charges:
                outcome.charged_enough_at_s = round(elapsed, 3)
                view.say(f"{watch.charged} payments charged at {elapsed:.1f}s "
                         f"(--until-charges {spec.until_charges}); stopping the load.")
                break
            time.sleep(POLL_S)
    finally:
        code = locust.stop() if locust.poll() is None else locust.wait()
    outcome.elapsed_s = round(time.monotonic() - started, 3)
    outcome.locust_exit = code
    outcome.operations = counter.count()
    outcome.duplicates_seen = watch.poll()
    if code != 0 and not outcome.target_died and outcome.operations == 0:
        raise ProvisionError(
            f"Locust could not run {spec.scenario_path.name} (exit {code}): "
            f"{locust.tail() or 'no output'}; see {run_dir / 'locust.log'}")
    return outcome
