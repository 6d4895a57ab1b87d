"""PaymentModel: the stateful Hypothesis model — payments, concurrent charges, retries, faults."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from harness.history import Classified
from harness.model.checks import PaymentViolation, check_duplicates, check_example
from harness.model.concurrency import run_requests
from harness.model.environment import Environment, Example, StepRecord
from harness.nemesis import clock as clock_family
from harness.nemesis import failpoints as failpoints_family
from harness.nemesis import provider as provider_family
from harness.nemesis import webhooks as webhooks_family
from harness.nemesis.clock import CLOCK_JUMP_S
from harness.targets.settle import QUIET_S, is_settled, settle

# Both shrink towards their first element: the simplest amount, an ordinary customer.
AMOUNTS = (1000, 2500)
CUSTOMERS = (None, "alice", "decline")  # "decline" pays with Stripe's always-declined card
CHARGE_KEYS = ("none", "shared", "distinct")
RETRY_KEYS = ("same", "new", "none")
# What each step may draw: the fault families' own lists (harness/nemesis/).
PROVIDER_FAULTS = provider_family.STEP_FAULTS
WEBHOOK_FAULTS = webhooks_family.STEP_FAULTS
FAILPOINTS = failpoints_family.STEP_FAILPOINTS
# Worker numbers are taken modulo --workers, so one program means the same at any width.
WORKER = st.integers(min_value=0, max_value=7)
# Steps that may make the provider charge: the ledger is read after these.
CHARGING_RULES = frozenset({"charge", "retry", "reconcile", "teardown"})


class _Uncreated:
    """The bundle's stand-in for a payment the target did not create (charges skip it)."""

    def __repr__(self) -> str:
        return "UNCREATED"


UNCREATED = _Uncreated()


def _maybe(values: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    """None half the time (and when shrinking), else one of `values`."""
    return st.one_of(st.none(), st.sampled_from(values))


_PROVIDER_FAULT = _maybe(PROVIDER_FAULTS)
_FAILPOINT = _maybe(FAILPOINTS)
# For a foreign service: the provider charges and holds its answer; the worker waiting for
# it is SIGKILLed meanwhile, so the charge is made and the service never hears of it.
KILL_AFTER_CHARGE = "after_charge:kill_workers"
_WORKER_KILL = _maybe((KILL_AFTER_CHARGE,))


def _environment_of_draw() -> Environment:
    """The environment of the model whose step Hypothesis is drawing.

    `st.runner()` is the public way to reach the model from a strategy, but drawing it adds
    a span to the example, and Hypothesis's generator mutates examples by their spans: every
    seed would generate other programs. So the model is read where `st.runner()` reads it,
    without a draw: `current_build_context()` is undocumented and `.data` is the engine's.
    """
    from hypothesis.control import current_build_context

    model: PaymentModel = current_build_context().data.hypothesis_runner
    return model.env


@st.composite
def provider_fault(draw: st.DrawFn) -> str | None:
    """A stand-in fault for this step, if the run attacks the provider at all."""
    if not _environment_of_draw().enabled("provider"):
        return None
    return draw(_PROVIDER_FAULT)


@st.composite
def late(draw: st.DrawFn) -> bool:
    """Whether a day passes before this retry, if the run moves clocks at all."""
    if not _environment_of_draw().enabled("clock"):
        return False
    return draw(st.booleans())


@st.composite
def failpoint(draw: st.DrawFn) -> str | None:
    """A failpoint for this step: inside the target where it offers them, else a worker kill
    right after the provider charged, where the user gave the service's supervisor pid."""
    env = _environment_of_draw()
    if env.enabled("failpoints") and env.target.can_failpoints:
        return draw(_FAILPOINT)
    if env.enabled("workers") and env.target.can_kill_workers:
        return draw(_WORKER_KILL)
    return None


F = TypeVar("F", bound=Callable[..., Any])


def _step(fn: F) -> F:
    """Mark the example aborted when a step raises, so teardown never masks that exception."""

    @functools.wraps(fn)
    def wrapper(self: PaymentModel, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except BaseException:
            self.example.aborted = True
            raise

    return cast(F, wrapper)


class PaymentModel(RuleBasedStateMachine):
    """Payments are created, charged by 1–8 concurrent requests over workers, retried,
    and attacked: provider faults, failpoints, dropped connections, expired keys.

    After every step no payment may have two charges in the ledger; at teardown the
    target is healed, quiesced and reconciled, and every safety checker judges the
    example. Concurrent requests always pass the stand-in's gate, so a race that
    happened once happens on every replay and Hypothesis can shrink it.
    """

    payments = Bundle("payments")

    def __init__(self, env: Environment) -> None:
        super().__init__()
        self.env = env
        self.example: Example = env.begin_example()
        self._raised = False

    # ---- helpers --------------------------------------------------------------------------

    def _record(self, rule_name: str, payment_id: str | None, **detail: Any) -> StepRecord:
        step = StepRecord(self.example.step, rule_name, payment_id, detail)
        self.example.steps.append(step)
        self.example.rule_counts[rule_name] += 1
        if rule_name in CHARGING_RULES:
            self.example.dirty = True
        self.env.stats.steps += 1
        return step

    @staticmethod
    def _id(payment: object) -> str | None:
        """The payment id, or None when its creation failed (a replayed `multiple()`)."""
        return payment if isinstance(payment, str) else None

    def _new_key(self) -> str:
        # Unique across examples and runs: a foreign target remembers keys between examples.
        return f"payrace-{uuid.uuid4().hex[:16]}"

    def _client(self, worker: int) -> tuple[int, Any]:
        index = worker % len(self.env.clients)
        return index, self.env.clients[index]

    @contextlib.contextmanager
    def _faults(
        self, payment_id: str | None, fault: str | None, failpoint: str | None, *, gated: bool
    ) -> Iterator[None]:
        """Arm this step's faults, and disarm whatever is left of them when it ends.

        Faults are scoped to the step that names them, and a provider fault matches the
        step's payment only: the program replays the same on every run.
        """
        env = self.env
        if fault is not None:
            env.call(env.standin.arm, provider_family.step_rules(
                fault, payment_id, latency_ms=env.config.latency_ms, hang_ms=env.config.hang_ms))
        killer: threading.Thread | None = None
        if failpoint == KILL_AFTER_CHARGE and payment_id is not None:
            killer = self._kill_after_charge(payment_id)
        elif failpoint is not None:
            point, action = failpoint.split(":")
            env.call(env.target.arm_failpoint, point, action, env.config.sleep_ms)
        try:
            yield
        finally:
            if killer is not None:
                killer.join()
            if fault is not None or gated:
                env.call(env.standin.clear_faults)  # also frees anything still at the gate
                if self.example.webhook_rules:  # they last the whole example
                    env.call(env.standin.arm, self.example.webhook_rules)
            if failpoint is not None and killer is None:
                env.call(env.target.clear_failpoints)

    def _kill_after_charge(self, payment_id: str) -> threading.Thread:
        """Hold the provider's answer to the payment's next charge; once the ledger shows the
        charge, SIGKILL the service's workers (its supervisor starts new ones)."""
        env = self.env
        hold_ms = env.config.hang_ms
        env.call(env.standin.arm, [
            {"action": "hang_after", "payment_id": payment_id, "count": 1, "money": True,
             "ms": hold_ms},
        ])
        step = self.example.steps[-1] if self.example.steps else None

        cursor = self.example.cursor

        def kill() -> None:
            from harness.ledger import is_money_charge
            from harness.targets.standin import entries_since

            position, deadline = cursor, time.monotonic() + hold_ms / 1000.0
            try:
                while time.monotonic() < deadline:
                    entries, position = entries_since(env.standin, position)
                    if any(e.get("payment_id") == payment_id and is_money_charge(e)
                           for e in entries):
                        killed = env.target.kill_workers()
                        if step is not None:
                            step.detail["killed"] = killed
                        return
                    time.sleep(0.02)
            except Exception as exc:  # the step goes on; its record says the kill failed
                if step is not None:
                    step.detail["kill_error"] = f"{type(exc).__name__}: {exc}"

        thread = threading.Thread(target=kill, name="payrace-kill-workers", daemon=True)
        thread.start()
        return thread

    def _fail(self, violation: PaymentViolation) -> None:
        violation.example = self.example
        self.example.violation = violation
        self._raised = True
        self.env.note_violation(self.example)
        raise violation

    # ---- rules ----------------------------------------------------------------------------

    @precondition(lambda self: self.example.created < self.env.config.max_payments)
    @rule(
        target=payments,
        amount=st.sampled_from(AMOUNTS),
        customer=st.sampled_from(CUSTOMERS),
    )
    @_step
    def create_payment(self, amount: int, customer: str | None) -> str | _Uncreated:
        step = self._record("create_payment", None, amount=amount, customer=customer)
        self.example.created += 1
        outcome = self.env.clients[0].create_payment(amount, "usd", customer, process="w0.0")
        step.outcomes.append(outcome.type)
        payment_id = outcome.value.get("id") if outcome.value is not None else None
        stats = self.env.stats
        stats.creates += 1
        if outcome.type != "ok" or not isinstance(payment_id, str):
            stats.creates_failed += 1
            stats.creates_failed_last += 1
            # Nothing to charge, but the bundle still gets a value: which rules can run must
            # not depend on a foreign target's answers, or Hypothesis's replays diverge.
            return UNCREATED
        stats.creates_failed_last = 0
        step.payment_id = payment_id
        self.env.note_payment(self.example, payment_id)
        if self.example.webhook_fault is not None:
            self._fault_webhooks(self.example.webhook_fault, [payment_id])
        return payment_id

    def _fault_webhooks(self, kind: str, payment_ids: list[str]) -> None:
        """Arm `kind` on every event of these payments, for the rest of the example (the
        rules are per payment: on a shared stand-in, other clients' events are left alone)."""
        rules = webhooks_family.payment_rules(kind, payment_ids)
        if rules:
            self.example.webhook_rules.extend(rules)
            self.env.call(self.env.standin.arm, rules)

    @rule(
        payment=payments,
        workers=st.lists(WORKER, min_size=1, max_size=8),
        key=st.sampled_from(CHARGE_KEYS),
        fault=provider_fault(),
        failpoint=failpoint(),
    )
    @_step
    def charge(
        self,
        payment: object,
        workers: list[int],
        key: str,
        fault: str | None = None,
        failpoint: str | None = None,
    ) -> None:
        """len(workers) requests at once (`shared` key: a double click; `distinct`: two tabs).

        `fault` meets the first of them at the stand-in, `failpoint` the first to pass it.
        """
        payment_id = self._id(payment)
        if payment_id is None:
            return
        step = self._record(
            "charge", payment_id, workers=workers, key=key, fault=fault, failpoint=failpoint
        )
        shared = self._new_key() if key == "shared" else None
        calls: list[Callable[[], Classified]] = []
        last_key: str | None = None
        for lane, worker in enumerate(workers):
            index, client = self._client(worker)
            last_key = None if key == "none" else shared if key == "shared" else self._new_key()
            calls.append(
                functools.partial(client.charge, payment_id, last_key, process=f"w{index}.{lane}")
            )
        with self._faults(payment_id, fault, failpoint, gated=len(calls) > 1):
            outcomes = run_requests(self.env, payment_id, calls, gate=len(calls) > 1)
        self.example.last_key[payment_id] = last_key
        self.env.stats.requests += len(calls)
        step.outcomes = [o.type for o in outcomes]

    @rule(
        payment=payments,
        key=st.sampled_from(RETRY_KEYS),
        worker=WORKER,
        fault=provider_fault(),
        failpoint=failpoint(),
        late=late(),
    )
    @_step
    def retry(
        self,
        payment: object,
        key: str,
        worker: int,
        fault: str | None = None,
        failpoint: str | None = None,
        late: bool = False,
    ) -> None:
        """What a client does after an unknown outcome: send the charge again.

        `late`: a day passes first, so the provider has forgotten the keys of the lost
        response (and a background re-drive meets the same forgetful provider).
        """
        payment_id = self._id(payment)
        if payment_id is None:
            return
        step = self._record(
            "retry", payment_id, key=key, worker=worker, fault=fault, failpoint=failpoint
        )
        if late:
            step.detail["late"] = True
            step.detail["service_clock"] = self._day_passes()
        if key == "same":
            retry_key = self.example.last_key.get(payment_id)
        else:
            retry_key = self._new_key() if key == "new" else None
        index, client = self._client(worker)
        with self._faults(payment_id, fault, failpoint, gated=False):
            outcome = client.charge(payment_id, retry_key, process=f"w{index}.0")
        self.example.last_key[payment_id] = retry_key
        self.env.stats.requests += 1
        step.outcomes.append(outcome.type)

    # Steps other than charges are capped per example: Hypothesis favours rules with few
    # arguments, and a program made of reconciles and clock jumps tests nothing.
    @precondition(
        lambda self: self.env.enabled("database")
        and self.env.target.can_drop_connections
        and self.example.ran("drop_db_connections") < 1
    )
    @rule()
    @_step
    def drop_db_connections(self) -> None:
        """Every database connection of the service is terminated, as by a failover."""
        step = self._record("drop_db_connections", None)
        step.detail["dropped"] = self.env.call(self.env.target.drop_connections)
        self.env.connections_dropped += 1

    @precondition(
        lambda self: self.env.target.can_reconcile and self.example.ran("reconcile") < 2
    )
    @rule(fault=provider_fault(), failpoint=failpoint())
    @_step
    def reconcile(self, fault: str | None = None, failpoint: str | None = None) -> None:
        """The service's reconciler runs once (it re-drives only expired leases)."""
        step = self._record("reconcile", None, fault=fault, failpoint=failpoint)
        with self._faults(None, fault, failpoint, gated=False):
            outcome = self.env.clients[0].reconcile(False, process="w0.0")
        step.outcomes.append(outcome.type)

    @precondition(
        lambda self: self.env.enabled("clock") and self.example.ran("expire_keys") < 1
    )
    @rule()
    @_step
    def expire_keys(self) -> None:
        """A day passes: the provider forgets idempotency keys, the service's leases expire.

        The stand-in's clock is payrace's own, so it moves for every target. The service's
        clock moves first, where it offers a way: a service that uses its own clock to stop
        trusting a key must never see the provider forget it before it knows a day passed.
        """
        step = self._record("expire_keys", None, seconds=CLOCK_JUMP_S)
        step.detail["service_clock"] = self._day_passes()

    def _day_passes(self) -> bool:
        """Move the service's clock (where it offers a way), then the provider's; say which."""
        env, target = self.env, self.env.target
        moved = clock_family.day_passes(
            functools.partial(env.call, target.move_clock) if target.can_move_clock else None,
            functools.partial(env.call, env.standin.advance_clock))
        if not moved:
            self.example.provider_only_clock = True
        return moved

    @precondition(lambda self: self.example.ran("read") < 2)
    @rule(payment=payments)
    @_step
    def read(self, payment: object) -> None:
        payment_id = self._id(payment)
        if payment_id is None:
            return
        step = self._record("read", payment_id)
        step.outcomes.append(self.env.clients[0].read(payment_id, process="w0.0").type)

    # ---- the invariant and the end of an example ---------------------------------------------

    @invariant()
    @_step
    def no_duplicate_charge(self) -> None:
        """No payment has two successful charges in the ledger (replays not counted)."""
        if self.example.dirty:
            # What a step caused is delivered before the next one: a handler that charges
            # again does so in the step that caused its event, on every replay alike.
            self.env.drain_webhooks(self.example, step=True)
        self.env.sync_ledger(self.example, lazy=True)
        violation = check_duplicates(self.example)
        if violation is not None:
            self._fail(violation)

    def teardown(self) -> None:
        """Heal, quiesce, reconcile, read back, then let every checker judge the example."""
        example = self.example
        violation: PaymentViolation | None = None
        try:
            self._heal()
            if not example.aborted:
                # Settled even while Hypothesis shrinks: a target working in the background
                # may make its second charge only now, and a shrunk program must show it.
                self._settle()
                results, violation = check_example(example, self.env.config.checkers)
                self.env.tally.add(results)
                # The core invariant is never secondary, whenever the second charge came.
                core = violation is not None and violation.checker == "no-duplicate-charge"
                if violation is not None and not self.env.judge_teardown and not core:
                    self.env.secondary_seen += 1
                    if self.env.secondary_example is None:
                        violation.example = example
                        example.violation = violation
                        self.env.secondary_example = example
                        self.env.note_found()
                    violation = None
                if violation is not None:
                    violation.example = example
                    example.violation = violation
                    self.env.note_violation(example)
            else:
                self.env.sync_ledger(example)
        finally:
            example.recorder.close()
        if violation is not None and not self._raised:
            raise violation

    def _heal(self) -> None:
        """Steps disarm their own faults; after an aborted step some may still be armed.

        Webhooks still owed are delivered first, even after a violation: a handler that runs
        later would act in the next example, where its charge would be blamed on another
        program.
        """
        if self.example.aborted:
            self.env.drain_webhooks(self.example)
            self.env.call(self.env.standin.clear_faults)
            if self.env.target.can_failpoints:
                self.env.call(self.env.target.clear_failpoints)

    def _settle(self) -> None:
        """Quiesce, reconcile where the target can, wait until it settles, then read back."""
        example = self.example
        env = self.env
        self._record("teardown", None)
        env.quiesce(example)
        env.drain_webhooks(example)
        reconciled: dict[str, Any] | None = None
        if env.target.can_reconcile:
            # Nothing runs any more, so every lease may be taken over: a forced reconcile is
            # what waiting out the leases would do, without the wait.
            outcome = env.clients[0].reconcile(True, process="w0.0")
            reconciled = {"outcome": outcome.type}
            # What the re-drives caused is delivered before judging (first attempts: retries
            # were followed before the reconcile).
            env.drain_webhooks(example, retries=False)

        def charged() -> Counter[str]:
            env.sync_ledger(example)
            return example.charges_per_payment

        # A background target may charge between the view and the ledger read: settle again
        # (within the budget) until the view has caught up with every charge.
        # In-process, every call has returned and the forced reconcile did what waiting would.
        deadline = time.monotonic() + (env.config.settle_s if env.background else 0.0)
        pending_final = env.target.can_reconcile or not env.background
        while True:
            settled = settle(
                lambda ids: env.call(env.target.read_rows, ids),
                example.payments,
                budget_s=max(0.0, deadline - time.monotonic()),
                charged=charged,
                # In-process, nothing charges unasked: no stillness to wait for.
                quiet_s=QUIET_S if env.background else 0.0,
                pending_final=pending_final,
            )
            settled.reconcile = reconciled
            reads = [env.clients[0].read(pid, process="w0.0") for pid in example.payments]
            snapshot = env.snapshot_for(example)
            if snapshot is None:
                # The recorded reads, and where one got no answer (a worker just killed, a
                # reset) the row settling last read: a missing row would read as a lost order.
                rows = dict(settled.rows)
                rows.update((r.value["id"], r.value) for r in reads
                            if r.type == "ok" and r.value is not None and "id" in r.value)
                snapshot = [rows[pid] for pid in example.payments if pid in rows]
            # The ledger after the view, never before: a charge the view names was made before
            # the view was read, so the ledger read after it holds it. Read the other way, a
            # background worker charging in between made a correct service's paid order look
            # paid with no money taken (db-consistency); a charge the view does not show yet
            # is what `behind` settles again for.
            env.sync_ledger(example)
            behind = [
                row for row in snapshot
                if example.charges_per_payment.get(str(row.get("id")))
                and not is_settled(row, charged=True, pending_final=pending_final)
            ]
            if not behind or not env.background or time.monotonic() >= deadline:
                break
        example.settled = settled
        example.db = snapshot


class _WebhookRules(PaymentModel):
    """PaymentModel plus the `webhooks` step, for a target that takes webhooks.

    A class of its own: a rule Hypothesis may draw changes every program it generates, so
    targets without a webhook endpoint keep exactly the programs (and seeds) they had.
    """

    @precondition(
        lambda self: self.env.enabled("webhooks") and self.example.ran("webhooks") < 1
    )
    @rule(kind=st.sampled_from(WEBHOOK_FAULTS))
    @_step
    def webhooks(self, kind: str) -> None:
        """From here on, every event about this example's payments is delivered so: twice,
        late, after a later event, or lost then redelivered — as Stripe may, at least once."""
        self._record("webhooks", None, kind=kind)
        self.example.webhook_fault = kind
        self._fault_webhooks(kind, list(self.example.payments))


# Hypothesis prints the program as `state = PaymentModel()`: the same name replays it.
_WebhookRules.__name__ = _WebhookRules.__qualname__ = "PaymentModel"


ModelFactory = Callable[[], PaymentModel]


def model_for(env: Environment) -> ModelFactory:
    """What makes a model of `env` (`state = PaymentModel()` in a printed program): with the
    `webhooks` step where it applies.

    The environment is an argument, not part of a class made per call: Hypothesis keeps every
    state machine class it ran for the life of the process, and the environment with it.
    """
    model = _WebhookRules if env.enabled("webhooks") and env.webhooks_known() else PaymentModel
    return functools.partial(model, env)
