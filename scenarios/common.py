"""Shared by payrace's locustfiles: a FastHttpUser that records every operation into the history.

Environment (all optional, so each locustfile also runs under plain `locust -f … --host URL`):

- `PAYRACE_HISTORY`: the history file (JSON Lines, docs/CONTRACTS.md); unset → nothing recorded.
  With `--processes P` (or Locust workers) each process writes `<file>.part-<host>-<pid>` and the
  master merges them into `<file>` when it exits (`python -m harness.runner.parts <file>` by hand).
- `PAYRACE_STANDIN_URL`: the Stripe stand-in whose admin API arms the scenario's faults;
  unset → no faults.
- `PAYRACE_FAULTS`: where the faults a scenario arms are logged (default `faults.jsonl` beside
  the history).
- `PAYRACE_ADAPTER`: `path/to/file.py:ClassName`, how to speak your service's own API
  (docs/TARGETS.md); unset → payrace's contract.
- `PAYRACE_SEED` (default 0), `PAYRACE_ORIGIN` (monotonic clock origin shared with `payrace run`).

Scenario knobs are Locust custom arguments (`locust -f scenarios/x.py --help` lists them):
`--payrace-<name>`, or `PAYRACE_<NAME>` in the environment — how `payrace run` passes them.
Every scenario has `--payrace-client-timeout` (seconds; each scenario has its own default).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gevent
import psutil
from gevent import GreenletExit
from gevent.pool import Group
from locust import FastHttpUser, events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.adapters import Adapter, Answer, adapter_from_env
from harness.adapters.judge import AdapterRaised, build, judge
from harness.errors import UsageError
from harness.history import Classified, HistoryRecorder
from harness.jsonl import append_jsonl
from harness.nemesis import Nemesis, NemesisContext, provider
from harness.provision.pg_control import ENV_POSTGRES_CONTROL, PgControl
from harness.runner.parts import merge_parts, part_path, part_paths

ENV_HISTORY = "PAYRACE_HISTORY"
ENV_STANDIN = "PAYRACE_STANDIN_URL"
ENV_FAULTS = "PAYRACE_FAULTS"
ENV_SEED = "PAYRACE_SEED"
ENV_ORIGIN = "PAYRACE_ORIGIN"

log = logging.getLogger("payrace.scenario")
T = TypeVar("T")

# Taken at import, before Locust forks its `--processes` workers, so every process of one
# run measures `time` from the same instant unless the runner hands its own origin down.
_IMPORT_ORIGIN = time.monotonic()


def env_float(name: str, default: float) -> float:
    """A float from the environment, or `default`; a malformed value is named, not ignored."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"payrace scenario: {name}={raw!r} is not a number") from None


def env_int(name: str, default: int) -> int:
    """An integer from the environment, or `default`."""
    return int(env_float(name, float(default)))


def seed() -> int:
    """The run's seed: every random choice a scenario makes derives from it."""
    return env_int(ENV_SEED, 0)


def origin() -> float:
    """The monotonic instant ops' `time` counts from, shared by every process of the run."""
    return env_float(ENV_ORIGIN, _IMPORT_ORIGIN)


def standin_url() -> str | None:
    """The stand-in's base URL when faults are wanted, else None."""
    return os.environ.get(ENV_STANDIN, "").strip().rstrip("/") or None


class Recording:
    """This process's share of the evidence: its history recorder and the fault log."""

    def __init__(self) -> None:
        self.recorder: HistoryRecorder | None = None
        self.faults_path: Path | None = None
        self.tag = str(os.getpid())
        self._users = itertools.count()
        self._faults_lock = threading.Lock()
        self._adapter: Adapter | None = None

    def adapter(self) -> Adapter:
        """How this process's users speak the service (PAYRACE_ADAPTER), loaded once."""
        if self._adapter is None:
            self._adapter = _adapter()
        return self._adapter

    def next_process(self) -> str:
        """A fresh Jepsen process name: one per user, unique across Locust processes."""
        return f"{self.tag}-u{next(self._users)}"

    def note_fault(self, action: str, **detail: Any) -> None:
        """Log one fault the scenario injected, with its time on the run's clock."""
        if self.faults_path is None:
            return
        line = {"time": round(time.monotonic() - origin(), 6), "wall": time.time(),
                "action": action, **detail}
        with self._faults_lock:
            append_jsonl(self.faults_path, line)


def listen(event: Any, listener: Callable[..., None]) -> None:
    """Attach a listener to a Locust event (typed as Any: Locust's add_listener has no hints)."""
    event.add_listener(listener)


def recording(environment: Environment) -> Recording:
    """This process's recording, kept on Locust's environment (one per run, not per module)."""
    found = getattr(environment, "payrace_recording", None)
    if not isinstance(found, Recording):
        found = Recording()
        environment.payrace_recording = found  # type: ignore[attr-defined]
    return found


@dataclass(frozen=True)
class Knob:
    """A scenario setting: Locust's `--payrace-<name>` argument, or `PAYRACE_<NAME>`."""

    name: str
    default: float
    help: str

    @property
    def env_var(self) -> str:
        return f"PAYRACE_{self.name.upper()}"

    @property
    def dest(self) -> str:
        return f"payrace_{self.name}"

    def value(self, environment: Environment) -> float:
        """The run's value: Locust's parsed argument, else the environment, else the default
        (an Environment built by hand has no parsed options)."""
        options = environment.parsed_options
        chosen = getattr(options, self.dest, None) if options is not None else None
        return float(chosen) if chosen is not None else env_float(self.env_var, self.default)


def _number(name: str) -> Callable[[str], float | None]:
    def parse(raw: str) -> float | None:
        if not raw.strip():
            return None  # set but empty: the default
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a number") from None

    parse.__name__ = "number"  # argparse names the type in its message
    return parse


def declare_knobs(*knobs: Knob) -> tuple[Knob, ...]:
    """Declare a scenario's knobs as Locust custom arguments (`locust --help` lists them)."""

    def add(parser: Any, **_kwargs: Any) -> None:
        for knob in knobs:
            parser.add_argument(f"--{knob.dest.replace('_', '-')}", dest=knob.dest,
                                type=_number(knob.env_var), env_var=knob.env_var, default=None,
                                help=f"{knob.help} (default {knob.default:g})")

    listen(events.init_command_line_parser, add)
    return knobs


# Every scenario's client patience; 0 keeps the scenario's own (its users' `network_timeout`).
# The other two are what a nemesis may reach: `payrace run` finds them out and passes them.
CLIENT_TIMEOUT, SERVICE_PID, TARGET_CLOCK = declare_knobs(
    Knob("client_timeout", 0.0, "seconds a client waits for an answer (0: the scenario's "
         "default)"),
    Knob("service_pid", 0, "the service's supervisor pid: a nemesis SIGKILLs its workers"),
    Knob("target_clock", 0, "1: the target offers POST /_admin/clock"))
# Not a knob: the service's database as `payrace run` hands it over (a nemesis cuts it).
ENV_DATABASE_URL = "PAYRACE_DATABASE_URL"


def is_worker(environment: Environment) -> bool:
    """True in a process that only runs users (a Locust worker, forked or remote)."""
    return isinstance(environment.runner, WorkerRunner)


def is_coordinator(environment: Environment) -> bool:
    """True in the one process that arms faults and runs a nemesis: the master or the only one."""
    return not is_worker(environment)


def _open_history(environment: Environment, **_kwargs: Any) -> None:
    rec = recording(environment)
    rec.adapter()  # a bad PAYRACE_ADAPTER stops Locust now, before any user starts
    rec.tag = str(os.getpid())
    path = os.environ.get(ENV_HISTORY, "").strip()
    faults = os.environ.get(ENV_FAULTS, "").strip()
    if is_coordinator(environment):
        if faults:
            rec.faults_path = Path(faults)
        elif path:
            rec.faults_path = Path(path).with_name("faults.jsonl")
    if not path:
        return
    if isinstance(environment.runner, MasterRunner):
        # The master runs no users; it merges the workers' parts once they have exited.
        atexit.register(_merge_after_workers, path)
        return
    target = part_path(path) if is_worker(environment) else Path(path)
    rec.recorder = HistoryRecorder(target, origin=origin(), keep=False)


def _close_history(environment: Environment, **_kwargs: Any) -> None:
    rec = recording(environment)
    if rec.recorder is not None:
        rec.recorder.close()


listen(events.init, _open_history)
listen(events.quitting, _close_history)


def _merge_after_workers(path: str) -> None:
    # Forked workers flush every line but may still be finishing their last operation.
    children = psutil.Process().children()
    psutil.wait_procs(children, timeout=15)
    if not children:
        # Workers on other machines (writing through a shared directory) cannot be waited
        # for: wait until their parts stop growing instead.
        _wait_until_still(path, quiet_s=1.0, limit_s=15.0)
    try:
        merge_parts(path)
    except Exception as exc:  # a failed merge must not hide the run; the parts stay on disk
        log.error("could not merge history parts into %s: %s", path, exc)


def _wait_until_still(path: str, quiet_s: float, limit_s: float) -> None:
    deadline, still_since = time.monotonic() + limit_s, time.monotonic()
    last: list[tuple[str, int]] | None = None
    while time.monotonic() < deadline:
        try:
            sizes = [(p.name, p.stat().st_size) for p in part_paths(path)]
        except OSError:  # a part vanished between listing and reading: look again
            sizes = None
        if sizes != last:
            last, still_since = sizes, time.monotonic()
        elif time.monotonic() - still_since >= quiet_s:
            return
        time.sleep(0.2)


def nemesis_context(environment: Environment) -> NemesisContext:
    """What this run's nemesis can reach: the stand-in (when faults are wanted), the target,
    the service's supervisor and database where `payrace run` (or you) named them."""
    return NemesisContext(
        standin_url=standin_url(), target_url=environment.host,
        service_pid=int(SERVICE_PID.value(environment)),
        database_url=os.environ.get(ENV_DATABASE_URL, "").strip() or None,
        target_clock=TARGET_CLOCK.value(environment) == 1,
        postgres=PgControl.from_text(os.environ.get(ENV_POSTGRES_CONTROL)),
        rng=random.Random(seed()), sleep=gevent.sleep)


def scenario_nemesis(environment: Environment, families: Sequence[str]) -> Nemesis:
    """A nemesis of these fault families on what this run can reach (not yet set up)."""
    return Nemesis(families, nemesis_context(environment))


def arm_faults(environment: Environment, rules: Sequence[Mapping[str, Any]], *,
               note: str | None = None) -> bool:
    """Arm stand-in fault rules when a stand-in is configured; returns whether it did."""
    ctx = nemesis_context(environment)
    if ctx.standin_url is None:
        return False
    try:
        provider.arm(ctx, [dict(rule) for rule in rules])
    finally:
        ctx.close()
    if note is not None:
        recording(environment).note_fault(note, rules=[dict(rule) for rule in rules])
    return True


def clear_faults(environment: Environment) -> None:
    """Disarm every stand-in fault (so a shared stand-in is not left hanging requests)."""
    ctx = nemesis_context(environment)
    try:
        provider.heal(ctx)
    finally:
        ctx.close()


def _stopped(exc: BaseException) -> Classified:
    kind = "stopped" if isinstance(exc, GreenletExit) else "exception"
    message = f"{type(exc).__name__}: {exc}"[:500] or kind
    return Classified("info", None, {"kind": kind, "status": None, "message": message})


class PayraceUser(FastHttpUser):
    """A user of the target contract (docs/TARGETS.md) whose every call is an op in the history."""

    abstract = True
    # The scenario's default patience; `--payrace-client-timeout` overrides it.
    network_timeout = 10.0
    connection_timeout = 5.0
    # Room for a burst of concurrent charges from one user (double_click, the PR's proof).
    concurrency = 128

    def __init__(self, environment: Environment) -> None:
        timeout = CLIENT_TIMEOUT.value(environment)
        if timeout > 0:  # before Locust's client is made: it takes the timeout when built
            self.network_timeout = timeout
        super().__init__(environment)
        self.recording = recording(environment)

    def on_start(self) -> None:
        self.adapter = self.recording.adapter()
        self.process = self.recording.next_process()
        self.rng = random.Random(f"{seed()}:{self.process.split('-', 1)[1]}")

    # -- one op each ---------------------------------------------------------------------

    def create_payment(self, *, process: str | None = None, amount: int | None = None,
                       customer: str | None = None) -> str | None:
        """Create a payment; returns its id, or None when it was not created."""
        body = {"amount": amount or self.rng.randrange(100, 20_000), "currency": "usd",
                "customer": customer or f"cus_{self.process}"}
        outcome = self._call("create", (body["amount"], body["currency"], body["customer"]),
                             process, body=body)
        if outcome.type == "ok" and outcome.value is not None:
            payment_id = outcome.value.get("id")
            return str(payment_id) if payment_id else None
        return None

    def charge(self, payment_id: str, key: str | None = None, *,
               process: str | None = None) -> Classified:
        """Charge a payment, with the client's idempotency key when given."""
        return self._call("charge", (payment_id, key), process, payment_id=payment_id, key=key)

    def read(self, payment_id: str, *, process: str | None = None) -> Classified:
        """Read a payment."""
        return self._call("read", (payment_id,), process, payment_id=payment_id)

    def at_once(self, calls: Sequence[Callable[[str], T]]) -> list[T | None]:
        """Run the calls concurrently, each in its own greenlet and Jepsen process; wait for all."""
        group = Group()
        greenlets = [group.spawn(call, f"{self.process}.{k}") for k, call in enumerate(calls)]
        try:
            group.join()
        finally:
            # Stopping the user must not leave its charges running past the end of the run.
            group.kill(block=True)
        return [g.value for g in greenlets]

    def charge_with_retries(self, payment_id: str, policy: str, attempts: int,
                            backoff: float, *, process: str | None = None) -> list[Classified]:
        """Charge until an answer is known: retry on `info` with the key `policy` says.

        `same`: one client key for every attempt; `new`: a fresh key per attempt; `none`: no key.
        """
        fixed = f"ck-{payment_id}-{self.rng.getrandbits(32):08x}"
        outcomes: list[Classified] = []
        for attempt in range(attempts):
            key = {"same": fixed, "new": f"{fixed}-{attempt}", "none": None}[policy]
            outcome = self.charge(payment_id, key, process=process)
            outcomes.append(outcome)
            if outcome.type != "info":
                break
            time.sleep(backoff * (attempt + 1) * (0.5 + self.rng.random()))
        return outcomes

    # -- recording -------------------------------------------------------------------------

    def _call(self, f: str, args: tuple[Any, ...], process: str | None, *,
              payment_id: str | None = None, key: str | None = None,
              body: dict[str, Any] | None = None) -> Classified:
        recorder = self.recording.recorder
        proc = process or self.process
        invoke = (recorder.invoke(proc, f, payment_id=payment_id, idempotency_key=key, value=body)
                  if recorder is not None else None)
        outcome: Classified | None = None
        try:
            outcome = self._request(f, args, payment_id)
            return outcome
        except BaseException as exc:  # GreenletExit when the run stops: the outcome is unknown
            outcome = _stopped(exc)
            raise
        finally:
            if recorder is not None and invoke is not None and outcome is not None:
                made = outcome.value.get("id") if f == "create" and outcome.value else None
                recorder.record(proc, outcome.type, f, payment_id=payment_id or made,
                                idempotency_key=key, value=outcome.value, error=outcome.error)

    def _request(self, f: str, args: tuple[Any, ...], payment_id: str | None) -> Classified:
        """Send the adapter's request for `f` and judge the answer by the law."""
        try:
            request = build(self.adapter, f, *args)
        except AdapterRaised as exc:  # nothing was sent: the op is `info`, the user goes on
            return judge(self.adapter, f, exc=exc)
        name = request.name or f"{request.method} {_template(request.path, payment_id)}"
        with self.client.request(request.method, request.path, json=request.json,
                                 headers=dict(request.headers) or None, name=name,
                                 catch_response=True) as resp:
            status = resp.status_code
            if status:
                try:
                    data = resp.json()
                except Exception:  # a body that is not JSON is still an answer with a status
                    data = None
                answer = Answer(status, data, resp.text or "", dict(resp.headers or {}),
                                request)
                outcome = judge(self.adapter, f, answer, payment_id=payment_id)
            else:
                error = getattr(resp, "error", None) or ConnectionError("no response")
                # geventhttpclient wraps the real cause (a timeout, a reset) in RetriesExceeded.
                original = getattr(error, "original", None)
                outcome = judge(self.adapter, f, exc=original if isinstance(original, BaseException)
                                else error)
            if outcome.type == "info":
                resp.failure((outcome.error or {}).get("message", "unknown outcome"))
            else:
                # A decline or a conflict is an answer the contract promises: Locust counts
                # it as a success.
                resp.success()
        return outcome


def _template(path: str, payment_id: str | None) -> str:
    """Locust groups every payment's requests under one name: the id becomes [id]."""
    return path.replace(payment_id, "[id]") if payment_id else path


def _adapter() -> Adapter:
    try:
        return adapter_from_env()
    except UsageError as exc:  # plain `locust -f` with a bad PAYRACE_ADAPTER: one line, exit 2
        print(f"payrace scenario: PAYRACE_ADAPTER: {exc}", file=sys.stderr)
        raise SystemExit(2) from None



def run_once_at_start(fn: Callable[[Environment], None]) -> Callable[[Environment], None]:
    """Register `fn` to run once per test, in the coordinating process only (not per worker)."""

    def _start(environment: Environment, **_kwargs: Any) -> None:
        if is_coordinator(environment):
            try:
                fn(environment)
            except Exception as exc:  # a scenario that cannot arm its faults must say so loudly
                log.error("payrace scenario setup failed: %s", exc)
                environment.process_exit_code = 3
                if environment.runner is not None:
                    environment.runner.quit()

    def _stop(environment: Environment, **_kwargs: Any) -> None:
        if is_coordinator(environment):
            try:
                clear_faults(environment)
            except Exception as exc:
                log.warning("could not clear stand-in faults: %s", exc)

    listen(events.test_start, _start)
    listen(events.test_stop, _stop)
    return fn
