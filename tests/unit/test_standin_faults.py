"""Fault rules: validation naming the field, matching, nth/count/probability, and the gate."""

from __future__ import annotations

import asyncio

import pytest

from harness.stripe_standin.faults import FaultRuleError, Faults, parse_rules, pass_gate


def plan_names(faults: Faults, path: str = "/v1/charges", payment_id: str | None = "p",
               method: str = "POST") -> list[str]:
    return faults.plan(method, path, payment_id).names


def test_defaults_match_any_post_under_v1_only() -> None:
    faults = Faults()
    faults.arm(parse_rules([{"action": "drop_after"}], 0))
    assert plan_names(faults, "/v1/refunds") == ["drop_after"]
    assert plan_names(faults, "/v1/charges/ch_1", method="GET") == []
    assert plan_names(faults, "/_standin/health") == []


def test_path_prefix_method_and_payment_filters() -> None:
    faults = Faults()
    faults.arm(parse_rules([
        {"action": "latency", "ms": 1, "path": "/v1/payment_intents", "payment_id": "p1"},
        {"action": "error_before", "method": "GET", "path": "/v1/charges/"},
    ], 0))
    assert plan_names(faults, "/v1/payment_intents/pi_1/confirm", "p1") == ["latency"]
    assert plan_names(faults, "/v1/payment_intents", "p2") == []
    assert plan_names(faults, "/v1/charges/ch_1", None, "GET") == ["error_before"]


def test_nth_fires_once_on_that_match_and_count_caps_firing() -> None:
    faults = Faults()
    faults.arm(parse_rules([{"action": "error_before", "nth": 2},
                            {"action": "error_after", "count": 2}], 0))
    fired = [plan_names(faults) for _ in range(4)]
    assert fired == [["error_after"], ["error_before", "error_after"], [], []]


def test_probability_with_a_seed_repeats_exactly() -> None:
    def run() -> list[bool]:
        faults = Faults()
        faults.arm(parse_rules([{"action": "drop_after", "probability": 0.3, "seed": 11}], 0))
        return [bool(plan_names(faults)) for _ in range(50)]

    first = run()
    assert first == run() and 5 < sum(first) < 25


def test_first_rule_of_a_kind_wins_and_later_ones_do_not_count_as_fired() -> None:
    faults = Faults()
    faults.arm(parse_rules([{"action": "drop_after"}, {"action": "hang_after", "ms": 5}], 0))
    plan = faults.plan("POST", "/v1/charges", "p")
    assert plan.after is not None and plan.after.action == "drop_after"
    assert [r.fired for r in faults.rules] == [1, 0]
    assert plan.label == "drop_after"


def test_latencies_add_up_and_label_joins_actions() -> None:
    faults = Faults()
    faults.arm(parse_rules([{"action": "latency", "ms": 100}, {"action": "latency", "ms": 50},
                            {"action": "error_after"}], 0))
    plan = faults.plan("POST", "/v1/charges", "p")
    assert plan.latency == pytest.approx(0.15)
    assert plan.label == "latency+latency+error_after"


@pytest.mark.parametrize(("rules", "field"), [
    ([{"action": "nope"}], "action"),
    ([{}], "action"),
    ([{"action": "latency", "speed": 1}], "speed"),
    ([{"action": "drop_after", "ms": 5}], "ms"),
    ([{"action": "latency", "ms": "5"}], "ms"),
    ([{"action": "latency", "method": "PATCH"}], "method"),
    ([{"action": "latency", "path": "v1"}], "path"),
    ([{"action": "error_after", "status": 200}], "status"),
    ([{"action": "error_after", "should_retry": "no"}], "should_retry"),
    ([{"action": "gate", "n": 0}], "n"),
    (["latency"], "rule"),
    ({"action": "latency"}, "rules"),
])
def test_invalid_rules_name_the_field(rules: object, field: str) -> None:
    with pytest.raises(FaultRuleError) as info:
        parse_rules(rules, 0)
    assert info.value.field == field and field in str(info.value)


def test_rules_may_come_wrapped_in_an_object() -> None:
    assert len(parse_rules({"rules": [{"action": "gate"}]}, 0)) == 1


def test_gate_releases_n_waiters_together_and_then_starts_a_new_batch() -> None:
    async def scenario() -> list[str]:
        [rule] = parse_rules([{"action": "gate", "n": 2, "timeout_ms": 2000}], 0)
        order: list[str] = []

        async def arrive(name: str, payment: str) -> None:
            await pass_gate(rule, payment)
            order.append(name)

        first = asyncio.create_task(arrive("a", "p"))
        other = asyncio.create_task(arrive("x", "q"))  # another payment waits on its own
        await asyncio.sleep(0.05)
        assert order == []
        await arrive("b", "p")
        await first
        assert sorted(order) == ["a", "b"]
        assert "q" in rule.gates and "p" not in rule.gates
        other.cancel()
        return order

    asyncio.run(scenario())


def test_gate_timeout_and_clear_release_waiters() -> None:
    async def scenario() -> None:
        [rule] = parse_rules([{"action": "gate", "n": 3, "timeout_ms": 50}], 0)
        await asyncio.wait_for(pass_gate(rule, "p"), timeout=1)
        faults = Faults()
        [held] = parse_rules([{"action": "gate", "n": 3, "timeout_ms": 60_000}], 0)
        faults.arm([held])
        waiter = asyncio.create_task(pass_gate(held, "p"))
        await asyncio.sleep(0.01)
        faults.clear()
        await asyncio.wait_for(waiter, timeout=1)

    asyncio.run(scenario())
