"""chaos: steady load while a nemesis drops database connections, SIGKILLs workers and bursts 5xx.

The race it hunts: "the card was charged, then the service lost its footing" — the charge
succeeded but the commit never happened (the database connection dropped at
`before_commit`, the worker process was killed mid-request, the process crashed right after
the provider answered), or the provider itself answered 500 after charging. PR #145 rolls
back and the client's retry charges again; `safe` leaves the payment `processing` under a
lease and its reconciler finishes it with the same idempotency key.

The nemesis (`harness.nemesis`) runs in the coordinating Locust process on a seeded schedule,
one fault every `--payrace-nemesis-interval` seconds (`PAYRACE_NEMESIS_INTERVAL`, default 1.0),
in shuffled rounds through the faults of its families that it can reach:
- the provider answers 500 after charging (`error_after`, stored on the key), or 503 before
  executing (`error_before`), each on its own — needs `PAYRACE_STANDIN_URL`;
- responses are lost (`drop_after`), the SDK retries inside those requests end, then a day
  passes: the service's clock
  (`POST /_admin/clock`, when `PAYRACE_TARGET_CLOCK=1`), then the provider's, so the keys of
  those lost charges are forgotten before anyone retries them;
- failpoints on the target (`POST /_admin/failpoints`): `before_commit` drop_connection,
  `after_charge` crash — needs a target that offers them (reference variants with failpoints on);
- SIGKILL of one worker process of `PAYRACE_SERVICE_PID` (the service's supervisor);
- `pg_terminate_backend` on every connection to `PAYRACE_DATABASE_URL`; when `payrace run`
  started the PostgreSQL server itself (`PAYRACE_POSTGRES_CONTROL`), a stop-and-start of the
  server, down 1 s, at most every 30 s;
- when the service registered a webhook endpoint at the stand-in: the next events are
  delivered twice, late, or after a later event for the same payment.

Run it alone: `PAYRACE_HISTORY=h.jsonl PAYRACE_STANDIN_URL=… PAYRACE_SERVICE_PID=… \\
locust -f scenarios/chaos.py --headless -u 16 -r 16 -t 20s --host http://127.0.0.1:8000`
"""

from __future__ import annotations

from typing import Any

import gevent
from locust import events
from locust.env import Environment

import scenarios.steady as steady
from scenarios.common import (
    Knob,
    declare_knobs,
    is_coordinator,
    listen,
    recording,
    scenario_nemesis,
)

# The fault families this scenario's nemesis brings, in the order of its rounds.
FAULT_FAMILIES = ("provider", "clock", "webhooks", "failpoints", "workers", "database")
(INTERVAL_S,) = declare_knobs(Knob("nemesis_interval", 1.0, "seconds between two faults"))


def _start_nemesis(environment: Environment, **_kwargs: Any) -> None:
    if not is_coordinator(environment):
        return
    nemesis = scenario_nemesis(environment, FAULT_FAMILIES).set_up()
    note = recording(environment).note_fault
    greenlet = gevent.spawn(nemesis.rounds, INTERVAL_S.value(environment), note)
    environment.payrace_nemesis = (nemesis, greenlet)  # type: ignore[attr-defined]


def _stop_nemesis(environment: Environment, **_kwargs: Any) -> None:
    running = getattr(environment, "payrace_nemesis", None)
    if running is None:
        return
    nemesis, greenlet = running
    greenlet.kill(block=False)
    nemesis.ctx.close()
    del environment.payrace_nemesis


listen(events.test_start, _start_nemesis)
listen(events.test_stopping, _stop_nemesis)


class ChaosUser(steady.SteadyUser):
    """The steady mix with impatient clients: short timeouts, retries on every unknown."""

    network_timeout = 2.0
