"""Fault rules armed over the admin API: which requests they match, what each action does."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

# Actions on webhook deliveries (webhooks.py), matched by event type rather than by request.
WEBHOOK_ACTIONS = (
    "webhook_duplicate", "webhook_delay", "webhook_drop_then_redeliver", "webhook_reorder",
)
ACTIONS = (
    "latency", "error_before", "error_after", "drop_after", "hang_after", "gate", "rate_limit",
    "search_lag", *WEBHOOK_ACTIONS,
)
_MATCH_FIELDS = (
    "action", "method", "path", "payment_id", "money", "nth", "count", "probability", "seed",
)
# Which optional fields each action accepts besides the matching ones.
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "latency": ("ms", "jitter_ms"),
    "error_before": ("status", "type", "code", "should_retry"),
    "error_after": ("status", "type", "code", "should_retry"),
    "drop_after": (),
    "hang_after": ("ms", "jitter_ms"),
    "gate": ("n", "timeout_ms"),
    "rate_limit": ("should_retry",),
    "search_lag": ("ms",),
    "webhook_duplicate": ("event_type",),
    "webhook_delay": ("event_type", "ms"),
    "webhook_drop_then_redeliver": ("event_type", "ms"),
    "webhook_reorder": ("event_type", "timeout_ms"),
}
# Request matching makes no sense for a delivery, which no request carries.
_REQUEST_ONLY = ("method", "path", "money")
ALL_FIELDS = frozenset(_MATCH_FIELDS).union(*ACTION_FIELDS.values())
_BEFORE = ("error_before", "rate_limit")
_AFTER = ("error_after", "drop_after", "hang_after")
# search_lag: Stripe says search lags writes by "up to a minute" (docs.stripe.com/search).
_DEFAULT_MS = {"latency": 500, "hang_after": 10_000, "search_lag": 60_000, "webhook_delay": 1_000,
               "webhook_drop_then_redeliver": 500}
_METHODS = ("GET", "POST", "DELETE", "*")


class FaultRuleError(ValueError):
    """A rule the stand-in will not arm; `field` names the offending field."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(f"Fault rule {index}: {message}")
        self.field = field


@dataclass
class Gate:
    """Requests for one payment waiting at a gate, and the timer that frees them."""

    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None

    def release(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


@dataclass
class Rule:
    """One armed rule, with the counters that make `nth` and `count` exact."""

    action: str
    method: str = "POST"
    path: str = "/v1/"
    payment_id: str | None = None
    # Only requests that can move money: a Charge, a PaymentIntent created with confirm=true,
    # a confirm. Services that create a PaymentIntent first and confirm it later are faulted
    # where the money moves, not on the harmless create.
    money: bool = False
    nth: int | None = None
    count: int | None = None
    probability: float | None = None
    seed: int = 0
    ms: int = 0
    jitter_ms: int = 0
    status: int = 500
    type: str = "api_error"
    code: str | None = None
    should_retry: bool | None = None
    n: int = 2
    timeout_ms: int = 5_000
    event_type: str | None = None  # webhook actions: an exact type, or a `charge.*` group
    matched: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)
    gates: dict[str, Gate] = field(default_factory=dict)

    def matches(
        self, method: str, path: str, payment_id: str | None, moves_money: bool = True
    ) -> bool:
        """The rule's filter only; `nth`, `count` and `probability` are decided in `fire`."""
        if self.action in WEBHOOK_ACTIONS:
            return False
        if self.method != "*" and self.method != method:
            return False
        if self.money and not moves_money:
            return False
        if not path.startswith(self.path):
            return False
        return self.payment_id is None or self.payment_id == payment_id

    def matches_event(self, event_type: str, payment_id: str | None) -> bool:
        """A webhook rule's filter: the event's type (or its group) and payment."""
        if self.action not in WEBHOOK_ACTIONS:
            return False
        wanted = self.event_type
        if wanted is not None and wanted != event_type and not (
            wanted.endswith(".*") and event_type.startswith(wanted[:-1])
        ):
            return False
        return self.payment_id is None or self.payment_id == payment_id

    def fire(self) -> bool:
        """Count one matching request and say whether the rule acts on it."""
        self.matched += 1
        if self.nth is not None and self.matched != self.nth:
            return False
        if self.count is not None and self.fired >= self.count:
            return False
        return self.probability is None or self.rng.random() < self.probability

    def delay_seconds(self) -> float:
        """`ms` plus a uniform jitter in [0, jitter_ms], from the rule's own seeded RNG."""
        jitter = self.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0
        return (self.ms + jitter) / 1000.0

    def describe(self) -> dict[str, Any]:
        """The rule as armed, with its counters, for `GET /_standin/faults`."""
        keys: tuple[str, ...] = _MATCH_FIELDS
        if self.action in WEBHOOK_ACTIONS:
            keys = tuple(k for k in keys if k not in _REQUEST_ONLY)
        out = {k: getattr(self, k) for k in keys}
        for name in ACTION_FIELDS[self.action]:
            out[name] = getattr(self, name)
        out.update(matched=self.matched, fired=self.fired)
        if self.action == "gate":
            # How many requests wait here now: lets a harness release a gate nobody else will reach.
            out["waiting"] = sum(len(gate.waiters) for gate in self.gates.values())
        return out


@dataclass
class Plan:
    """What the rules decided for one request."""

    latency: float = 0.0
    before: Rule | None = None
    gate: Rule | None = None
    after: Rule | None = None
    lag: Rule | None = None  # search_lag: what this request creates hides from search a while
    names: list[str] = field(default_factory=list)

    def withdraw_after(self) -> None:
        """The request did not execute (a replay, a refused key): its after-action never ran,
        and it wrote nothing for a search lag to hide.

        The rules get their firings back, so `count` counts only faults actually applied.
        """
        for rule in (self.after, self.lag):
            if rule is not None:
                rule.fired -= 1
                self.names.remove(rule.action)
        self.after = self.lag = None

    def lag_seconds(self, default_ms: int = 0) -> float:
        """How long this request's writes stay out of search: the rule's `ms`, else the default
        every write gets (`payrace stand-in --search-lag-ms`)."""
        return (self.lag.ms if self.lag is not None else default_ms) / 1000.0

    @property
    def label(self) -> str | None:
        """The ledger's `fault` field: the action, or actions joined by `+`, or None."""
        return "+".join(self.names) or None


def _int(index: int, rule: dict[str, Any], name: str, low: int, high: int | None = None) -> int:
    value = rule[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
        high is not None and value > high
    ):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise FaultRuleError(index, name, f"{name} must be an integer {bound}, got {value!r}")
    return value


def _str(index: int, rule: dict[str, Any], name: str) -> str:
    value = rule[name]
    if not isinstance(value, str) or not value:
        raise FaultRuleError(index, name, f"{name} must be a non-empty string, got {value!r}")
    return value


def parse_rule(index: int, raw: Any, default_seed: int) -> Rule:
    """Validate one JSON rule; an unknown field or action, or a bad value, raises naming it."""
    if not isinstance(raw, dict):
        raise FaultRuleError(index, "rule", f"expected a JSON object, got {raw!r}")
    action = raw.get("action")
    if action not in ACTIONS:
        raise FaultRuleError(
            index, "action", f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}"
        )
    for name in raw:
        if name not in ALL_FIELDS:
            raise FaultRuleError(
                index, name,
                f"unknown field {name!r}; accepted fields: {', '.join(sorted(ALL_FIELDS))}",
            )
        if name not in _MATCH_FIELDS and name not in ACTION_FIELDS[action]:
            accepted = ", ".join(ACTION_FIELDS[action]) or "none"
            raise FaultRuleError(
                index, name,
                f"field {name!r} does not apply to action {action!r} (its fields: {accepted})",
            )
        if name in _REQUEST_ONLY and action in WEBHOOK_ACTIONS:
            raise FaultRuleError(
                index, name,
                f"field {name!r} does not apply to a webhook action (match with event_type, "
                "payment_id, nth, count, probability)",
            )
    rule = Rule(action=action, ms=_DEFAULT_MS.get(action, 0))
    if action == "rate_limit":
        rule.status, rule.type, rule.code = 429, "invalid_request_error", "rate_limit"
    if "method" in raw:
        method = _str(index, raw, "method").upper()
        if method not in _METHODS:
            raise FaultRuleError(
                index, "method", f"method must be one of {_METHODS}, got {method!r}"
            )
        rule.method = method
    if "path" in raw:
        rule.path = _str(index, raw, "path")
        if not rule.path.startswith("/"):
            raise FaultRuleError(index, "path", f"path must start with '/', got {rule.path!r}")
    if "payment_id" in raw:
        rule.payment_id = _str(index, raw, "payment_id")
    if "money" in raw:
        if not isinstance(raw["money"], bool):
            raise FaultRuleError(
                index, "money", f"money must be true or false, got {raw['money']!r}"
            )
        rule.money = raw["money"]
    for name, low, high in (("nth", 1, None), ("count", 0, None), ("ms", 0, 3_600_000),
                            ("jitter_ms", 0, 3_600_000), ("status", 400, 599), ("n", 1, 10_000),
                            ("timeout_ms", 0, 3_600_000)):
        if name in raw:
            setattr(rule, name, _int(index, raw, name, low, high))
    for name in ("type", "code", "event_type"):
        if name in raw:
            setattr(rule, name, _str(index, raw, name))
    if "should_retry" in raw:
        if not isinstance(raw["should_retry"], bool):
            raise FaultRuleError(index, "should_retry",
                                 f"should_retry must be true or false, got {raw['should_retry']!r}")
        rule.should_retry = raw["should_retry"]
    if "probability" in raw:
        p = raw["probability"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise FaultRuleError(index, "probability", f"probability must be in [0, 1], got {p!r}")
        rule.probability = float(p)
    rule.seed = _int(index, raw, "seed", -(2**63)) if "seed" in raw else default_seed
    rule.rng = random.Random(rule.seed)
    return rule


def parse_rules(body: Any, default_seed: int) -> list[Rule]:
    """A JSON list of rules, or `{"rules": [...]}`; all or nothing."""
    if isinstance(body, dict) and set(body) == {"rules"}:
        body = body["rules"]
    if not isinstance(body, list):
        raise FaultRuleError(0, "rules", 'expected a JSON list of rules or {"rules": [...]}')
    return [parse_rule(i, raw, default_seed) for i, raw in enumerate(body)]


class Faults:
    """The armed rules, consulted once per request in arming order."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def arm(self, rules: list[Rule]) -> None:
        self.rules.extend(rules)

    def clear(self) -> None:
        """Disarm every rule and let any request waiting at a gate through."""
        for rule in self.rules:
            for gate in rule.gates.values():
                gate.release()
            rule.gates.clear()
        self.rules = []

    def release_gates(self, payment_id: str | None = None) -> int:
        """Let requests waiting at gates through now (all, or one payment's); rules stay armed."""
        released = 0
        for rule in self.rules:
            for key, gate in list(rule.gates.items()):
                if payment_id is None or key == payment_id:
                    released += len(gate.waiters)
                    _open(rule, key, gate)
        return released

    def for_event(self, event_type: str, payment_id: str | None) -> list[Rule]:
        """The webhook rules that act on one event's deliveries: at most one of each action."""
        fired: list[Rule] = []
        for rule in self.rules:
            if any(r.action == rule.action for r in fired):
                continue
            if rule.matches_event(event_type, payment_id) and rule.fire():
                rule.fired += 1
                fired.append(rule)
        return fired

    def plan(
        self, method: str, path: str, payment_id: str | None, moves_money: bool = True
    ) -> Plan:
        """Decide every action for one request; the first rule to claim a slot wins it."""
        plan = Plan()
        for rule in self.rules:
            if not rule.matches(method, path, payment_id, moves_money) or not rule.fire():
                continue
            if rule.action == "latency":
                plan.latency += rule.delay_seconds()
            elif rule.action in _BEFORE and plan.before is None:
                plan.before = rule
            elif rule.action in _AFTER and plan.after is None:
                plan.after = rule
            elif rule.action == "gate" and plan.gate is None:
                plan.gate = rule
            elif rule.action == "search_lag" and plan.lag is None:
                plan.lag = rule
            else:
                continue
            rule.fired += 1
            plan.names.append(rule.action)
        return plan


async def pass_gate(rule: Rule, payment_id: str | None) -> None:
    """Hold this request until `n` requests for the same payment wait here, or the timeout passes.

    Released together, they reach the idempotency check in the same event-loop turn, so the
    race the gate exists for happens every time.
    """
    key = payment_id or ""
    loop = asyncio.get_running_loop()
    gate = rule.gates.get(key)
    if gate is None:
        gate = rule.gates[key] = Gate()
        gate.timer = loop.call_later(rule.timeout_ms / 1000.0, _open, rule, key, gate)
    mine: asyncio.Future[None] = loop.create_future()
    gate.waiters.append(mine)
    if len(gate.waiters) >= rule.n:
        _open(rule, key, gate)
    await mine


def _open(rule: Rule, key: str, gate: Gate) -> None:
    """Let every waiter through; the next request for this payment starts a new batch."""
    if rule.gates.get(key) is gate:
        del rule.gates[key]
    gate.release()
