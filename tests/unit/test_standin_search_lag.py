"""search_lag rules: parsing, matching, withdrawal on replays, and what search sees meanwhile."""

from __future__ import annotations

import pytest

from harness.stripe_standin.faults import FaultRuleError, Faults, parse_rules
from harness.stripe_standin.freshness import Freshness


def test_search_lag_takes_ms_defaulting_to_stripes_minute() -> None:
    [rule] = parse_rules([{"action": "search_lag"}], 0)
    assert (rule.ms, rule.method, rule.path) == (60_000, "POST", "/v1/")
    [rule] = parse_rules([{"action": "search_lag", "ms": 5000, "payment_id": "p", "count": 1,
                           "money": True, "probability": 0.5, "seed": 3}], 0)
    assert (rule.ms, rule.payment_id, rule.count, rule.money) == (5000, "p", 1, True)
    assert rule.describe()["ms"] == 5000


@pytest.mark.parametrize(("raw", "field"), [
    ({"action": "search_lag", "ms": -1}, "ms"),
    ({"action": "search_lag", "ms": "10"}, "ms"),
    ({"action": "search_lag", "ms": 3_600_001}, "ms"),
    ({"action": "search_lag", "jitter_ms": 5}, "jitter_ms"),
    ({"action": "search_lag", "status": 500}, "status"),
])
def test_bad_search_lag_rules_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(FaultRuleError) as info:
        parse_rules([raw], 0)
    assert info.value.field == field


def test_search_lag_combines_with_an_after_action_and_is_matched_like_the_others() -> None:
    faults = Faults()
    faults.arm(parse_rules([{"action": "search_lag", "ms": 2000, "payment_id": "p", "count": 1,
                             "money": True},
                            {"action": "drop_after", "count": 1}], 0))
    assert faults.plan("POST", "/v1/charges", "other").names == ["drop_after"]
    assert faults.plan("POST", "/v1/payment_intents", "p", moves_money=False).names == []
    plan = faults.plan("POST", "/v1/charges", "p")
    assert plan.label == "search_lag" and plan.lag_seconds() == 2.0
    assert faults.plan("POST", "/v1/charges", "p").names == []  # count 1: used up


def test_a_replay_withdraws_the_lag_and_the_default_applies_without_a_rule() -> None:
    faults = Faults()
    faults.arm(parse_rules([{"action": "search_lag", "ms": 2000, "count": 1}], 0))
    plan = faults.plan("POST", "/v1/charges", "p")
    plan.withdraw_after()
    assert plan.label is None and plan.lag_seconds(default_ms=300) == 0.3
    assert faults.plan("POST", "/v1/charges", "p").label == "search_lag"  # its firing came back


def test_freshness_hides_new_objects_and_shows_the_old_copy_of_updated_ones() -> None:
    fresh = Freshness()
    new = {"id": "ch_1", "status": "succeeded"}
    old = {"id": "pi_1", "status": "requires_payment_method"}
    fresh.created(new, now=100.0, lag_s=60)
    fresh.updating(old, now=100.0, lag_s=60)
    old["status"] = "succeeded"
    assert fresh.view(new, 159.9) is None
    assert fresh.view(old, 159.9) == {"id": "pi_1", "status": "requires_payment_method"}
    assert fresh.view(new, 160.0) is new and fresh.view(old, 160.0) is old
    fresh.created({"id": "ch_2"}, now=0.0, lag_s=0)  # no lag: visible at once
    assert fresh.view({"id": "ch_2"}, 0.0) == {"id": "ch_2"}
