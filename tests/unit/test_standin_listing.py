"""The stand-in's pure list and expand helpers: parameter checks, cursor windows, expand trees."""

from __future__ import annotations

from typing import Any

import pytest

from harness.stripe_standin.expand import apply_expand, parse_expand
from harness.stripe_standin.listing import Collection, ListQuery, list_page, parse_list
from harness.stripe_standin.wire import StripeError

FILTERS = frozenset({"payment_intent", "created"})


def store(*created: int) -> Collection:
    """Charges ch_0, ch_1, … created at these times, every other one on pi_a."""
    charges = Collection(indexed=("payment_intent",))
    for n, at in enumerate(created):
        charges[f"ch_{n}"] = {"id": f"ch_{n}", "object": "charge", "created": at,
                              "payment_intent": "pi_a" if n % 2 == 0 else None}
    return charges


def ids(page: dict[str, Any]) -> list[str]:
    return [o["id"] for o in page["data"]]


def test_parse_list_defaults_and_bounds() -> None:
    """limit defaults to 10; created ranges become inclusive bounds."""
    assert parse_list({}, FILTERS) == ListQuery()
    query = parse_list({"limit": "3", "created": {"gt": "5", "lte": "9"},
                        "payment_intent": "pi_a"}, FILTERS)
    assert (query.limit, query.created_min, query.created_max) == (3, 6, 9)
    assert query.equals == (("payment_intent", "pi_a"),)
    assert parse_list({"created": "7"}, FILTERS).created_min == 7


@pytest.mark.parametrize("params, param", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
    ({"created": {"after": "1"}}, "created[after]"), ({"created": {"lt": "x"}}, "created[lt]"),
    ({"customer": "cus_1"}, "customer"),
    ({"starting_after": "a", "ending_before": "b"}, "ending_before"),
])
def test_parse_list_refusals_name_the_parameter(params: dict[str, Any], param: str) -> None:
    """Every refusal is a 400 naming the parameter, as Stripe's are."""
    with pytest.raises(StripeError) as info:
        parse_list(params, FILTERS)
    assert (info.value.status, info.value.param) == (400, param)


def test_pages_are_newest_first_with_ties_in_creation_order() -> None:
    """Newest first by created; equal times keep creation order (the later one first)."""
    charges = store(1, 2, 2, 3)
    page = list_page(charges, ListQuery(limit=2), "/v1/charges", "charge")
    assert (ids(page), page["has_more"]) == (["ch_3", "ch_2"], True)
    page = list_page(charges, ListQuery(limit=2, starting_after="ch_2"), "/v1/charges", "charge")
    assert (ids(page), page["has_more"]) == (["ch_1", "ch_0"], False)
    page = list_page(charges, ListQuery(limit=2, ending_before="ch_0"), "/v1/charges", "charge")
    assert (ids(page), page["has_more"]) == (["ch_2", "ch_1"], True)
    assert page["object"] == "list" and page["url"] == "/v1/charges"


def test_filters_use_the_index_and_cursor_outside_the_filter() -> None:
    """An indexed filter with a cursor on an object the filter excludes still pages by position."""
    charges = store(1, 2, 3, 4, 5)
    query = ListQuery(equals=(("payment_intent", "pi_a"),), starting_after="ch_3")
    assert ids(list_page(charges, query, "/v1/charges", "charge")) == ["ch_2", "ch_0"]
    query = ListQuery(created_min=2, created_max=4)
    assert ids(list_page(charges, query, "/v1/charges", "charge")) == ["ch_3", "ch_2", "ch_1"]
    with pytest.raises(StripeError) as info:
        list_page(charges, ListQuery(starting_after="ch_9"), "/v1/charges", "charge")
    assert (info.value.code, info.value.param) == ("resource_missing", "starting_after")


def test_a_clock_stepped_back_still_lists_by_created() -> None:
    """Creation order out of date order (a wall clock stepped back) sorts before paging."""
    charges = store(5, 3, 4)
    assert charges.disordered
    assert ids(list_page(charges, ListQuery(), "/v1/charges", "charge")) == ["ch_0", "ch_2", "ch_1"]
    charges.clear()
    assert not charges.disordered and charges.ordered == [] and "ch_0" not in charges


def test_expand_trees_and_refusals() -> None:
    """Paths become a tree; lists need `data.`; unknown, not-kept and too deep paths are 400."""
    assert parse_expand(None, "payment_intent") == {}
    assert parse_expand(["latest_charge", "latest_charge.payment_intent"], "payment_intent") == {
        "latest_charge": {"payment_intent": {}}}
    assert parse_expand(["data.latest_charge"], "payment_intent", listed=True) == {
        "data": {"latest_charge": {}}}
    assert parse_expand(["refunds"], "charge") == {"refunds": {}}
    for paths, kind, listed, param in [
        (["customer"], "charge", False, "expand[0]"),
        (["latest_charge", "amount"], "payment_intent", False, "expand[1]"),
        (["latest_charge"], "payment_intent", True, "expand[0]"),
        (["data"], "charge", True, "expand[0]"),
        (["payment_intent.latest_charge.payment_intent.latest_charge.x"], "charge", False,
         "expand[0]"),
    ]:
        with pytest.raises(StripeError) as info:
            parse_expand(paths, kind, listed)
        assert (info.value.status, info.value.param) == (400, param)
    with pytest.raises(StripeError):
        parse_expand("latest_charge", "payment_intent")


def test_apply_expand_copies_and_leaves_null_ids() -> None:
    """Expansion returns copies (stored objects keep ids) and leaves null ids null."""
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}
    intent = {"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"}
    objects = {("charge", "ch_1"): charge, ("payment_intent", "pi_1"): intent}
    lookup = lambda kind, oid: objects.get((kind, oid))  # noqa: E731
    out = apply_expand(intent, {"latest_charge": {"payment_intent": {}}}, lookup)
    assert out["latest_charge"]["payment_intent"]["id"] == "pi_1"
    assert intent["latest_charge"] == "ch_1" and charge["payment_intent"] == "pi_1"
    page = {"object": "list", "data": [intent, {**intent, "latest_charge": None}]}
    out = apply_expand(page, {"data": {"latest_charge": {}}}, lookup)
    assert out["data"][0]["latest_charge"]["id"] == "ch_1"
    assert out["data"][1]["latest_charge"] is None


def test_search_candidates_are_the_objects_carrying_the_metadata_pair() -> None:
    """A metadata clause narrows search to the objects indexed under that pair, oldest first;
    without one every object is a candidate; clear empties the index."""
    charges = Collection()
    for n, pid in enumerate(["pay_a", "pay_b", "pay_a"]):
        charges[f"ch_{n}"] = {"id": f"ch_{n}", "created": n, "metadata": {"payment_id": pid}}
    charges["ch_3"] = {"id": "ch_3", "created": 3, "metadata": {}}
    pay_a = [("status", "succeeded"), ("metadata.payment_id", "pay_a")]
    assert [o["id"] for o in charges.candidates(pay_a)] == ["ch_0", "ch_2"]
    assert charges.candidates([("metadata.payment_id", "pay_z")]) == []
    assert charges.candidates([("metadata.order", "pay_a")]) == []
    assert len(charges.candidates([("status", "succeeded")])) == 4
    charges.clear()
    assert charges.candidates(pay_a) == []
