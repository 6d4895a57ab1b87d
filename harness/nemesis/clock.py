"""The clock family: a day passes, the service's clock first, then the provider's key clock."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext
from harness.nemesis.provider import arm

if TYPE_CHECKING:
    from harness.targets.abilities import Abilities

NAME = "clock"
# Stripe forgets an idempotency key after 24 h (the stand-in's KEY_LIFETIME_SECONDS).
KEY_LIFETIME_S = 24 * 3600
# Past the provider's key lifetime, so every key older than the jump is forgotten.
CLOCK_JUMP_S = KEY_LIFETIME_S + 3600
# Charges whose answers are lost just before a load nemesis's jump, and how long they get to
# come (with none lost by then, the day passes anyway).
LOST_BEFORE_JUMP = 2
LOST_WAIT_S = 0.6
# How long after a lost charge's last request (the stand-in's own time of it) no retry of its
# key must come before the day passes, and the most to wait: longer than an SDK's retry pause
# inside one request (stripe-python: 0.25–0.5 s), shorter than a service's re-drive or a
# client's retry (from ~1.5 s), so that later attempt meets the forgotten key — as it would
# a day on. (Counted from when payrace *saw* the request, with 1 s of quiet, the day came
# after a 1.5 s lease's re-drive had replayed, and a service reusing keys forever was missed.)
RETRY_QUIET_S = 0.75
RETRY_WAIT_S = 3.0
# Every other key used this recently when the day passes is in the middle of an attempt
# (its SDK may be about to retry it, later on a loaded machine): the provider renews it rather
# than forgetting it under its own retry. The lost charges' keys age whatever their use.
IN_ATTEMPT_S = 2.0
# Under load, how long the service's clock runs a day ahead of the provider's: a decision the
# service took on a key's age just before its clock moved (a claim that found the key young)
# reaches the provider before the provider forgets the key. Meanwhile the service sees every
# old key as old and searches first, which is the safe side; a key it uses in that time is,
# for the service, used after the day passed, so the provider renews it too.
SERVICE_AHEAD_S = 2.0


def reach(abilities: Abilities) -> tuple[bool, str]:
    own = "its move_clock" if abilities.in_process else "POST /_admin/clock"
    if abilities.clock:
        return True, f"the provider's key clock and the service's own clock ({own}) jump 25 h"
    offers = ("its object offers no move_clock(seconds)" if abilities.in_process
              else "it offers no POST /_admin/clock")
    return True, ("the provider's key clock jumps 25 h; the service's own clock is not moved "
                  f"({offers})")


def day_passes(move_service: Callable[[float], None] | None,
               move_provider: Callable[[float], object], seconds: float = CLOCK_JUMP_S,
               between: Callable[[], object] | None = None) -> bool:
    """Move the service's clock (where it offers a way), then — after `between`, when the
    service's moved — the provider's; say whether the service's moved. First the service's: a
    service that uses its own clock to stop trusting a key must never see the provider forget
    it before it knows a day passed."""
    if move_service is not None:
        move_service(seconds)
        if between is not None:
            between()
    move_provider(seconds)
    return move_service is not None


def _move_target(ctx: NemesisContext) -> Callable[[float], None] | None:
    if not (ctx.target_clock and ctx.target_url):
        return None

    def move(seconds: float) -> None:
        from harness.targets.admin import RefusedError

        # It said it offers a clock, then refused: the provider's still moves.
        with contextlib.suppress(RefusedError):
            ctx.target.move_clock(seconds)

    return move


def jump_after_lost_answers(ctx: NemesisContext) -> Detail:
    """Responses are lost, then a day passes before anyone tries again: the service's own
    clock first (where it offers POST /_admin/clock), then, SERVICE_AHEAD_S later, the
    provider's, which forgets every idempotency key older than 24 h — the keys of those lost
    responses included — except keys in the middle of an attempt (used in the last
    RETRY_QUIET_S, or executing) and keys used since the service's clock moved, which start
    a new lifetime."""
    cursor = int(ctx.standin.health()["ledger_entries"])
    lost = [{"action": "drop_after", "count": LOST_BEFORE_JUMP, "money": True}]
    arm(ctx, lost)
    lost_keys = _until_lost_retries_end(ctx, cursor)
    move_target = _move_target(ctx)
    service_moved: list[float] = []
    renewed_within: list[float] = []

    def move_service(seconds: float) -> None:
        assert move_target is not None
        service_moved.append(time.monotonic())
        move_target(seconds)

    def move_provider(seconds: float) -> None:
        # Renewed: keys in the middle of an attempt (used in the last IN_ATTEMPT_S), and keys
        # used since the service's clock moved (after the day passed, as the service sees it);
        # never the lost charges' keys, between their attempts.
        since = time.monotonic() - service_moved[0] if service_moved else 0.0
        renewed_within.append(round(IN_ATTEMPT_S + since, 3))
        ctx.standin.advance_clock(seconds, renew_keys_used_within_s=IN_ATTEMPT_S + since,
                                  except_keys=lost_keys)

    moved = day_passes(move_service if move_target is not None else None, move_provider,
                       between=functools.partial(ctx.sleep, SERVICE_AHEAD_S))
    return {"seconds": CLOCK_JUMP_S, "service_clock": moved, "rules": lost,
            "service_ahead_s": SERVICE_AHEAD_S if moved else 0.0,
            "keys_in_use_renewed_within_s": renewed_within[0], "lost_keys": sorted(lost_keys)}


def _until_lost_retries_end(ctx: NemesisContext, cursor: int) -> set[str]:
    """Wait until no lost charge's key has been sent again for RETRY_QUIET_S (at most
    RETRY_WAIT_S); return those keys. The day must pass *between* attempts, never inside one.

    An SDK retries a lost answer within half a second under the same key, inside the request
    that already decided the key was young; were the day to pass during that pause, the retry
    would meet a forgotten key and charge anew — a double charge no service can prevent and
    no real clock makes. A later attempt (a re-drive, a client's retry) can look at the key's
    age first, and must. Quiet is counted from the stand-in's time of each request, not from
    when payrace read it, so a slow read never pushes the day past that later attempt.
    """
    lost: dict[str, float] = {}  # key -> wall time of its last request
    started = time.time()
    while time.time() < started + RETRY_WAIT_S:
        page = ctx.standin.ledger(cursor, 5000)
        cursor = int(page["next_cursor"])
        for entry in page["entries"]:
            key = entry.get("idempotency_key")
            if entry.get("kind") != "request" or not key:
                continue
            if "drop_after" in str(entry.get("fault") or "") or key in lost:
                at = float(entry.get("wall") or time.time())
                lost[str(key)] = max(lost.get(str(key), at), at)
        now = time.time()
        if lost and now - max(lost.values()) >= RETRY_QUIET_S:
            return set(lost)
        if not lost and now - started >= LOST_WAIT_S:
            return set()  # no charge came in time to lose: nothing to wait for
        ctx.sleep(0.05)
    return set(lost)


def load_faults(ctx: NemesisContext) -> list[Fault]:
    return [Fault("clock-jump", jump_after_lost_answers)] if ctx.standin_url else []


FAMILY = FaultFamily(NAME, reach, load_faults)
