"""Webhook endpoints (registered by API or `--webhook`) and their signed, at-least-once delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson

from harness.stripe_standin.clock import Clock
from harness.stripe_standin.faults import Faults
from harness.stripe_standin.ledger import Ledger
from harness.stripe_standin.signing import new_secret, signature
from harness.stripe_standin.wire import new_id

log = logging.getLogger("payrace.standin")
Obj = dict[str, Any]

# Stripe retries for up to three days with exponential backoff; a test cannot wait that long, so
# the stand-in keeps the shape (doubling) on a real-time scale of seconds. Moving the stand-in's
# clock does not hurry a retry: backoff is real time, as a receiver's timeouts are.
RETRY_FIRST_S = 0.2
RETRY_CAP_S = 5.0
MAX_ATTEMPTS = 8  # 0.2+0.4+0.8+1.6+3.2+5+5 s: a receiver down ~16 s still gets every event
TIMEOUT_S = 5.0  # per attempt; a hung receiver holds its lane this long
# Deliveries in parallel, as Stripe's are: one lane at a time would fall behind a service
# that takes 20 ms per event under load. One payment's events share a lane and keep the
# order they were made in (the reorder fault is what changes it).
LANES = 4
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based) before the next one."""
    return float(min(RETRY_FIRST_S * 2 ** (attempt - 1), RETRY_CAP_S))


def wants(endpoint: Obj, event_type: str) -> bool:
    """Whether an endpoint's `enabled_events` cover this type (`*` is every event)."""
    enabled = endpoint["enabled_events"]
    return "*" in enabled or event_type in enabled


@dataclass
class Job:
    """One event on its way to one endpoint; retries reuse it with `attempt` counted up."""

    event: Obj
    endpoint: Obj
    payment_id: str | None
    generation: int
    attempt: int = 1
    fault: str | None = None
    copy: bool = False  # the extra delivery of webhook_duplicate: never counts as pending
    drop_ms: int | None = None  # webhook_drop_then_redeliver: skip this attempt, retry after
    reorder_ms: int | None = None  # webhook_reorder: hold until a later event got through


class Webhooks:
    """The endpoints, and delivery tasks fed by queues (lanes) so no API request waits on them."""

    def __init__(self, ledger: Ledger, clock: Clock, faults: Faults) -> None:
        self.ledger, self.clock, self.faults = ledger, clock, faults
        self.endpoints: dict[str, Obj] = {}  # few, in creation order; secrets kept apart
        self.secrets: dict[str, str] = {}
        self.configured: set[str] = set()  # from --webhook: survive a reset, as options do
        self.generation = 0  # bumped by clear(): jobs of an older generation are dropped
        self.lanes: list[asyncio.Queue[Job]] = []  # made with their tasks on the first event
        self.tasks: list[asyncio.Task[None]] = []
        self.session: aiohttp.ClientSession | None = None
        # Each pending timer (a delay, a retry, a hold's timeout) and the endpoint it is for.
        self.timers: dict[asyncio.TimerHandle, Job] = {}
        self.retrying: set[asyncio.TimerHandle] = set()  # the timers that are retries
        self.held: dict[tuple[str, str], list[Job]] = {}
        self.attempts = 0
        self.delivered = 0
        self.in_flight: dict[int, Job] = {}  # lane -> the job sent and not answered yet
        self.timeout_s = TIMEOUT_S  # an attribute so a test can shorten it

    # ── endpoints ──

    def create(self, url: str, enabled_events: list[str], now: float, *,
               description: str | None = None, metadata: dict[str, str] | None = None,
               source: str = "api") -> Obj:
        """A new enabled endpoint; the answer (only this one) carries its `secret`."""
        endpoint: Obj = {
            "id": new_id("we"), "object": "webhook_endpoint", "api_version": None,
            "application": None, "created": int(now), "description": description,
            "enabled_events": list(enabled_events), "livemode": False,
            "metadata": metadata or {}, "status": "enabled", "url": url,
        }
        self.endpoints[endpoint["id"]] = endpoint
        self.secrets[endpoint["id"]] = new_secret()
        if source == "cli":
            self.configured.add(endpoint["id"])
        return endpoint | {"secret": self.secrets[endpoint["id"]]}

    def configure(self, urls: list[str], now: float) -> list[Obj]:
        """The `--webhook URL` endpoints: every event, secrets shown by `GET /_standin/webhooks`."""
        return [self.create(url, ["*"], now, source="cli") for url in urls]

    def delete(self, endpoint_id: str) -> bool:
        """Forget an endpoint; its queued deliveries are dropped when their turn comes, its
        scheduled and held ones at once (nothing is owed to an endpoint that is gone)."""
        for handle in [h for h, job in self.timers.items() if job.endpoint["id"] == endpoint_id]:
            handle.cancel()
            del self.timers[handle]
            self.retrying.discard(handle)
        for key in [k for k in self.held if k[0] == endpoint_id]:
            del self.held[key]
        self.configured.discard(endpoint_id)
        self.secrets.pop(endpoint_id, None)
        return self.endpoints.pop(endpoint_id, None) is not None

    def describe(self, payments: set[str] | None = None) -> dict[str, Any]:
        """What `GET /_standin/webhooks` shows: endpoints with secrets, and the deliveries
        still owed (of `payments`' events only, when given) and delivery counters."""

        def mine(jobs: Any) -> list[Job]:
            return [j for j in jobs if payments is None or j.payment_id in payments]

        # asyncio.Queue has no public way to look at its items; its deque is read, not changed.
        queued = [j for lane in self.lanes for j in lane._queue]  # type: ignore[attr-defined]
        return {
            "endpoints": [
                ep | {"secret": self.secrets[ep["id"]],
                      "source": "cli" if ep["id"] in self.configured else "api"}
                for ep in self.endpoints.values()
            ],
            "queued": len(mine(j for j in queued if j.generation == self.generation)),
            "scheduled": len(mine(self.timers.values())),
            "retrying": len(mine(self.timers[h] for h in self.retrying)),
            "held": len(mine(j for jobs in self.held.values() for j in jobs)),
            "in_flight": len(mine(self.in_flight.values())),
            "attempts": self.attempts,
            "delivered": self.delivered,
        }

    # ── events in ──

    def on_event(self, event: Obj, payment_id: str | None) -> None:
        """Queue an event for every endpoint that wants it; O(1) when none is registered."""
        if not self.endpoints:
            return
        targets = [ep for ep in self.endpoints.values() if wants(ep, event["type"])]
        if not targets:
            return
        event["pending_webhooks"] = len(targets)
        rules = {r.action: r for r in self.faults.for_event(event["type"], payment_id)}
        for endpoint in targets:
            job = Job(event, endpoint, payment_id, self.generation)
            names = []
            if "webhook_drop_then_redeliver" in rules:
                job.drop_ms = rules["webhook_drop_then_redeliver"].ms
                names.append("webhook_drop_then_redeliver")
            if "webhook_reorder" in rules:
                job.reorder_ms = rules["webhook_reorder"].timeout_ms
                names.append("webhook_reorder")
            delay = rules["webhook_delay"].ms / 1000 if "webhook_delay" in rules else 0.0
            if delay:
                names.append("webhook_delay")
            if "webhook_duplicate" in rules:
                names.append("webhook_duplicate")
            job.fault = "+".join(names) or None
            if job.reorder_ms is not None:
                self._hold(job)
            elif delay:
                self._later(delay, job)
            else:
                self._put(job)
            if "webhook_duplicate" in rules:
                # The copy is a second, independent delivery of the same event (same id).
                twin = replace(job, copy=True, drop_ms=None, reorder_ms=None)
                if delay:
                    self._later(delay, twin)
                else:
                    self._put(twin)

    def _put(self, job: Job) -> None:
        if job.generation != self.generation:
            return
        if not self.lanes:
            loop = asyncio.get_running_loop()
            self.lanes = [asyncio.Queue() for _ in range(LANES)]
            self.tasks = [loop.create_task(self._run(n)) for n in range(LANES)]
        self.lanes[hash(job.payment_id or job.event["id"]) % LANES].put_nowait(job)

    def _later(self, delay: float, job: Job, *, retry: bool = False) -> None:
        """Queue `job` after `delay` real seconds, without any task sleeping for it."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self.timers.pop(handle, None)
            self.retrying.discard(handle)
            self._put(job)

        handle = loop.call_later(delay, fire)
        self.timers[handle] = job
        if retry:
            self.retrying.add(handle)

    def _hold(self, job: Job) -> None:
        """webhook_reorder: park the job until a later event for its payment is delivered."""
        key = (job.endpoint["id"], job.payment_id or "")
        self.held.setdefault(key, []).append(job)
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def timeout() -> None:  # nothing came after it: deliver it anyway, late
            self.timers.pop(handle, None)
            waiting = self.held.get(key, [])
            if job in waiting:
                waiting.remove(job)
                if not waiting:
                    del self.held[key]
                self._put(job)

        handle = loop.call_later((job.reorder_ms or 0) / 1000, timeout)
        self.timers[handle] = job

    def _release(self, job: Job) -> None:
        """A delivery got through: the events held back for its payment follow it now."""
        for held in self.held.pop((job.endpoint["id"], job.payment_id or ""), []):
            self._put(held)

    # ── delivery ──

    async def _run(self, lane: int) -> None:
        """One lane's delivery task: attempts in its queue's order, retries scheduled, never
        slept on."""
        queue = self.lanes[lane]
        while True:
            job = await queue.get()
            if job.generation != self.generation or job.endpoint["id"] not in self.endpoints:
                continue
            self.in_flight[lane] = job
            try:
                await self._attempt(job)
            except Exception:  # a stand-in bug must not stop every later delivery
                log.exception("webhook delivery of %s failed", job.event["id"])
            finally:
                del self.in_flight[lane]

    async def _attempt(self, job: Job) -> None:
        endpoint = job.endpoint
        if job.drop_ms is not None:
            # Not sent at all, as if Stripe lost it; redelivered as the next attempt.
            self._record(job, None, "not sent (fault webhook_drop_then_redeliver)", 0.0,
                         job.drop_ms / 1000)
            self._later(job.drop_ms / 1000, replace(job, attempt=job.attempt + 1, drop_ms=None))
            return
        if self.session is None:
            self.session = aiohttp.ClientSession()
        payload = orjson.dumps(job.event)
        # Real time, not the movable clock: the SDKs reject a `t` more than 300 s from the
        # receiver's own clock, and a test that moved the stand-in a day ahead must still verify.
        headers = {
            "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            "Stripe-Signature": signature(payload, self.secrets[endpoint["id"]], int(time.time())),
        }
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        self.attempts += 1
        try:
            # Stripe counts a redirect as a failure, so it is not followed.
            async with self.session.post(
                endpoint["url"], data=payload, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as resp:
                await resp.read()
                status = resp.status
        except TimeoutError:
            error = f"timed out after {self.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        duration = time.monotonic() - started
        if job.generation != self.generation:
            return  # reset while in flight: the new ledger must not show an old run's delivery
        ok = status is not None and 200 <= status < 300
        retry = None if ok or job.attempt >= MAX_ATTEMPTS else backoff(job.attempt)
        self._record(job, status, error, duration, retry)
        if ok:
            self.delivered += 1
            if not job.copy and job.event["pending_webhooks"] > 0:
                job.event["pending_webhooks"] -= 1
            self._release(job)
        elif retry is not None:
            self._later(retry, replace(job, attempt=job.attempt + 1), retry=True)

    def _record(self, job: Job, status: int | None, error: str | None, duration: float,
                retry_in: float | None) -> None:
        self.ledger.append(
            "webhook", time=self.clock.now(), event=job.event["id"], type=job.event["type"],
            endpoint=job.endpoint["id"], url=job.endpoint["url"], attempt=job.attempt,
            status=status, error=error, duration_ms=round(duration * 1000, 3),
            fault=job.fault, payment_id=job.payment_id, next_retry_s=retry_in,
        )

    # ── lifecycle ──

    def clear(self) -> None:
        """Forget API-registered endpoints and every pending delivery (`--webhook` ones stay)."""
        self.generation += 1
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()
        self.retrying.clear()
        self.held.clear()
        for lane in self.lanes:
            while not lane.empty():
                lane.get_nowait()
        for endpoint_id in [e for e in self.endpoints if e not in self.configured]:
            self.delete(endpoint_id)
        self.attempts = self.delivered = 0

    async def close(self) -> None:
        """Stop the delivery tasks and close their connections (the server's shutdown)."""
        self.clear()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.session is not None:
            await self.session.close()
