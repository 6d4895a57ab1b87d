"""Concurrent requests for one payment, held at the stand-in's gate so races happen every time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait

from harness.history import Classified
from harness.model.environment import Environment

POLL_S = 0.004


def run_requests(
    env: Environment,
    payment_id: str,
    calls: Sequence[Callable[[], Classified]],
    *,
    gate: bool,
) -> list[Classified]:
    """Run the calls together; with `gate`, the stand-in holds them until all have arrived.

    The gate is armed for n = len(calls). When every call still outstanding is waiting at
    the gate or on a database lock, nobody else can come, so it opens at once (a correct
    service lets only one through); when some are blocked where payrace cannot see (an
    in-process mutex) and nothing has moved for `gate_quiet_ms`, it opens too. Either
    way the race never depends on luck.
    """
    if len(calls) == 1 and not gate:
        return [calls[0]()]
    gated = gate and len(calls) > 1
    if gated:
        env.call(
            env.standin.arm,
            [
                {
                    "action": "gate",
                    "payment_id": payment_id,
                    "n": len(calls),
                    "timeout_ms": env.config.gate_timeout_ms,
                }
            ],
        )
    futures = [env.pool.submit(call) for call in calls]
    try:
        if gated:
            _watch_gate(env, payment_id, futures)
        return [future.result() for future in futures]
    finally:
        # The step that armed the gate clears the stand-in's faults (and so the gate) after.
        wait(futures)


def _waiting(env: Environment, payment_id: str) -> int:
    rules = env.call(env.standin.faults)
    return sum(
        int(rule.get("waiting", 0))
        for rule in rules
        if rule.get("action") == "gate" and rule.get("payment_id") == payment_id
    )


def _watch_gate(env: Environment, payment_id: str, futures: list[Future[Classified]]) -> None:
    quiet_s = env.config.gate_quiet_ms / 1000.0
    last: tuple[int, int] | None = None
    last_change = time.monotonic()
    while True:
        time.sleep(POLL_S)
        pending = sum(1 for future in futures if not future.done())
        if not pending:
            return
        waiting = _waiting(env, payment_id)
        now = time.monotonic()
        state = (len(futures) - pending, waiting)
        if state != last:
            last, last_change = state, now
        if not waiting:
            continue
        # Requests queued on a row lock held by a gated one will never arrive: count them.
        stuck = waiting if waiting >= pending else waiting + env.call(env.target.blocked_requests)
        if stuck >= pending or now - last_change >= quiet_s:
            env.call(env.standin.release_gates, payment_id)
            last_change = now
