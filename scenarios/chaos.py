"""chaos: steady load while a nemesis drops database connections, SIGKILLs workers and bursts 5xx.

The race it hunts: "the card was charged, then the service lost its footing" — the charge
succeeded but the commit never happened (the database connection dropped at
`before_commit`, the worker process was killed mid-request, the process crashed right after
the provider answered), or the provider itself answered 500 after charging. PR #145 rolls
back and the client's retry charges again; `safe` leaves the payment `processing` under a
lease and its reconciler finishes it with the same idempotency key.

The nemesis runs in the coordinating Locust process on a seeded schedule, one fault every
`PAYRACE_NEMESIS_INTERVAL` seconds (default 1.0), cycling through the kinds it can reach:
- the provider answers 500 after charging (`error_after`, stored on the key), or 503 before
  executing (`error_before`), each on its own — needs `PAYRACE_STANDIN_URL`;
- responses are lost (`drop_after`), the SDK retries inside those requests end, then a day
  passes: the service's clock
  (`POST /_admin/clock`, when `PAYRACE_TARGET_CLOCK=1`), then the provider's, so the keys of
  those lost charges are forgotten before anyone retries them;
- failpoints on the target (`POST /_admin/failpoints`): `before_commit` drop_connection,
  `after_charge` crash — needs a target that offers them (reference variants with failpoints on);
- SIGKILL of one worker process of `PAYRACE_SERVICE_PID` (the service's supervisor);
- `pg_terminate_backend` on every connection to `PAYRACE_DATABASE_URL`;
- when the service registered a webhook endpoint at the stand-in: the next events are
  delivered twice, late, or after a later event for the same payment.

Run it alone: `PAYRACE_HISTORY=h.jsonl PAYRACE_STANDIN_URL=… PAYRACE_SERVICE_PID=… \\
locust -f scenarios/chaos.py --headless -u 16 -r 16 -t 20s --host http://127.0.0.1:8000`
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import gevent
from locust import events
from locust.env import Environment

import scenarios.steady as steady
from scenarios.common import (
    ENV_CLIENT_TIMEOUT,
    RECORDING,
    arm_faults,
    env_float,
    env_int,
    is_coordinator,
    listen,
    log,
    seed,
    standin_url,
)

INTERVAL_S = env_float("PAYRACE_NEMESIS_INTERVAL", 1.0)
SERVICE_PID = env_int("PAYRACE_SERVICE_PID", 0)
DATABASE_URL = os.environ.get("PAYRACE_DATABASE_URL", "").strip()
# 1 when the target offers POST /_admin/clock (payrace run finds out and says so).
TARGET_CLOCK = env_int("PAYRACE_TARGET_CLOCK", 0) == 1
CLOCK_JUMP_S = 25 * 3600
# Charges whose answers are lost just before a clock jump, and how long they get to happen.
LOST_BEFORE_JUMP = 2
LOST_WAIT_S = 0.3
# How long no retry of a lost charge must be seen before the day passes, and the most to wait:
# longer than an SDK's retry pause inside one request (stripe-python: 0.25–0.5 s), shorter
# than a service's lease, so a re-drive still meets the forgotten key — as it would a day on.
RETRY_QUIET_S = 1.0
RETRY_WAIT_S = 3.0

Action = Callable[[Environment], dict[str, Any] | None]


def _post_json(url: str, body: dict[str, Any], timeout: float = 3.0) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def standin_500_after_charge(environment: Environment) -> dict[str, Any] | None:
    """The provider charges, then answers 500 (stored on the key, replayed for 24 h)."""
    rules = [{"action": "error_after", "status": 500, "count": 3, "money": True}]
    return {"rules": rules} if arm_faults(rules) else None


def standin_503_before(environment: Environment) -> dict[str, Any] | None:
    """The provider refuses a few requests before executing them: nothing is charged.

    Armed on its own, never beside `error_after`: a request refused before executing
    never reaches the after-action, so a combined burst would never charge-then-fail.
    """
    rules = [{"action": "error_before", "status": 503, "count": 3, "should_retry": True}]
    return {"rules": rules} if arm_faults(rules) else None


def clock_jump(environment: Environment) -> dict[str, Any] | None:
    """Responses are lost, then a day passes before anyone tries again: the service's own clock
    first (where it offers POST /_admin/clock), then the provider's, which forgets every
    idempotency key older than 24 h — the keys of those lost responses included."""
    url = standin_url()
    if url is None:
        return None
    from harness.stripe_standin import StandinAdmin

    admin = StandinAdmin(url)
    cursor = int(admin.health()["ledger_entries"])
    lost = [{"action": "drop_after", "count": LOST_BEFORE_JUMP, "money": True}]
    arm_faults(lost)
    gevent.sleep(LOST_WAIT_S)  # let the charges execute and their answers be lost
    _until_lost_retries_end(admin, cursor)
    moved_service = False
    if TARGET_CLOCK:
        # First, so the service knows a day passed before the provider forgets its keys.
        moved_service = _post_json(f"{environment.host}/_admin/clock",
                                   {"advance_seconds": CLOCK_JUMP_S}) < 300
    admin.advance_clock(CLOCK_JUMP_S)
    return {"seconds": CLOCK_JUMP_S, "service_clock": moved_service, "rules": lost}


def _until_lost_retries_end(admin: Any, cursor: int) -> None:
    """Wait until nothing has resent a lost charge's key for RETRY_QUIET_S (at most
    RETRY_WAIT_S): the day must pass *between* attempts, never inside one.

    An SDK retries a lost answer within half a second under the same key, inside the request
    that already decided the key was young; were the day to pass during that pause, the retry
    would meet a forgotten key and charge anew — a double charge no service can prevent and
    no real clock makes. A later attempt (a re-drive, a client's retry) can look at the key's
    age first, and must.
    """
    keys: set[str] = set()
    last_seen = time.monotonic()
    deadline = last_seen + RETRY_WAIT_S
    while time.monotonic() < deadline:
        page = admin.ledger(cursor, 5000)
        cursor = int(page["next_cursor"])
        for entry in page["entries"]:
            key = entry.get("idempotency_key")
            if entry.get("kind") != "request" or not key:
                continue
            if "drop_after" in str(entry.get("fault") or "") or key in keys:
                keys.add(str(key))
                last_seen = time.monotonic()
        # Nothing was lost (no charge came in time): nothing to wait for but a moment.
        if time.monotonic() - last_seen >= (RETRY_QUIET_S if keys else LOST_WAIT_S):
            return
        gevent.sleep(0.1)


def webhooks_twice_and_late(environment: Environment) -> dict[str, Any] | None:
    """The next events reach the service twice, late, or after a later one: at least once and
    in no promised order, as Stripe delivers them."""
    rules = [{"action": "webhook_duplicate", "count": 4},
             {"action": "webhook_reorder", "count": 2, "timeout_ms": 500},
             {"action": "webhook_delay", "count": 2, "ms": 300}]
    return {"rules": rules} if arm_faults(rules) else None


def _takes_webhooks() -> bool:
    """Whether an endpoint is registered at the stand-in (the service subscribed to events)."""
    url = standin_url()
    if url is None:
        return False
    from harness.stripe_standin import StandinAdmin

    try:
        return bool(StandinAdmin(url).webhooks()["endpoints"])
    except Exception:  # an older stand-in, or none: no webhook faults, the rest goes on
        return False


def _failpoint(name: str, action: str, count: int) -> Action:
    def arm(environment: Environment) -> dict[str, Any] | None:
        status = _post_json(f"{environment.host}/_admin/failpoints",
                            {"name": name, "action": action, "count": count})
        return {"failpoint": name, "fp_action": action, "count": count} if status < 300 else None

    arm.__name__ = f"failpoint_{name}_{action}"
    return arm


def kill_worker(environment: Environment) -> dict[str, Any] | None:
    """SIGKILL one worker of the service: no cleanup, no rollback message, just gone."""
    from harness.errors import ProvisionError
    from harness.targets.workers import kill_workers

    try:
        killed = kill_workers(SERVICE_PID, only=_rng.randrange(1 << 16))
    except ProvisionError:
        return None
    return {"pid": killed[0], "signal": "SIGKILL"} if killed else None


def terminate_db_connections(environment: Environment) -> dict[str, Any] | None:
    """Cut every connection to the service's database from the server side."""
    import psycopg  # only this nemesis needs a database driver
    from sqlalchemy.engine import make_url

    # The service's URL is SQLAlchemy's (`postgresql+psycopg://…`); libpq wants plain postgresql.
    conninfo = make_url(DATABASE_URL).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return {"terminated": sum(1 for (done,) in rows if done)}


def _available() -> list[tuple[str, Action]]:
    actions: list[tuple[str, Action]] = []
    if standin_url() is not None:
        actions.append(("standin-500-after-charge", standin_500_after_charge))
        actions.append(("standin-503-before", standin_503_before))
        actions.append(("clock-jump", clock_jump))
        if _takes_webhooks():  # only then: the schedule of other targets stays as it was
            actions.append(("webhooks-twice-and-late", webhooks_twice_and_late))
    actions.append(("db-drop-before-commit", _failpoint("before_commit", "drop_connection", 2)))
    actions.append(("crash-after-charge", _failpoint("after_charge", "crash", 1)))
    if SERVICE_PID:
        actions.append(("sigkill-worker", kill_worker))
    if DATABASE_URL:
        actions.append(("terminate-db-connections", terminate_db_connections))
    return actions


_rng = random.Random(seed())
_nemesis: list[gevent.Greenlet] = []


def _schedule(environment: Environment) -> None:
    actions = _available()
    unreachable: set[str] = set()
    while True:
        # A shuffled round: every kind of fault happens even in a short run.
        for kind, action in _rng.sample(actions, len(actions)):
            gevent.sleep(INTERVAL_S)
            if kind in unreachable:
                continue
            try:
                detail = action(environment)
            except Exception as exc:  # a fault that cannot be injected is logged, not fatal
                detail, error = None, f"{type(exc).__name__}: {exc}"
                log.warning("nemesis %s failed: %s", kind, error)
                RECORDING.note_fault(kind, skipped=error)
                continue
            if detail is None:
                unreachable.add(kind)  # e.g. the target has no failpoints: stop asking
                RECORDING.note_fault(kind, skipped="not offered by this target")
            else:
                RECORDING.note_fault(kind, **detail)


def _start_nemesis(environment: Environment, **_kwargs: Any) -> None:
    if is_coordinator(environment):
        _nemesis.append(gevent.spawn(_schedule, environment))


def _stop_nemesis(environment: Environment, **_kwargs: Any) -> None:
    while _nemesis:
        _nemesis.pop().kill(block=False)


listen(events.test_start, _start_nemesis)
listen(events.test_stopping, _stop_nemesis)


class ChaosUser(steady.SteadyUser):
    """The steady mix with impatient clients: short timeouts, retries on every unknown."""

    network_timeout = env_float(ENV_CLIENT_TIMEOUT, 2.0)
