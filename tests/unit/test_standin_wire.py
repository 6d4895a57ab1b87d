"""Stripe's wire format: bracket-syntax form decoding, typed parameters and the error envelope."""

from __future__ import annotations

import pytest

from harness.stripe_standin.wire import (
    StripeError,
    as_bool,
    as_currency,
    as_metadata,
    as_positive_int,
    decode_form,
    new_id,
    new_request_id,
    pairs_digest,
    parse_pairs,
    require,
)


def test_decode_form_nests_brackets_as_stripe_does() -> None:
    """`metadata[k]`, `expand[]` and `items[0][price]` become a dict, a list and a list of dicts."""
    raw = (b"amount=1000&metadata%5Bpayment_id%5D=pay_1&metadata[note]=a+b%26c"
           b"&expand[]=x&expand[]=y&items[1][price]=p2&items[0][price]=p1")
    assert decode_form(raw) == {
        "amount": "1000",
        "metadata": {"payment_id": "pay_1", "note": "a b&c"},
        "expand": ["x", "y"],
        "items": [{"price": "p1"}, {"price": "p2"}],
    }


def test_one_level_fast_path_matches_the_general_parser() -> None:
    """`a[b]`, `a[]` and `a[0]` decode the same with or without deeper keys beside them."""
    raw = b"metadata[k]=v&expand[]=x&items[0]=p&items[1]=q"
    expected = {"metadata": {"k": "v"}, "expand": ["x"], "items": ["p", "q"]}
    assert decode_form(raw) == expected
    assert decode_form(raw + b"&deep[a][b]=c") == {**expected, "deep": {"a": {"b": "c"}}}
    for bad in (b"expand[]=x&expand[a]=y", b"metadata[a]=1&metadata[]=2", b"a=1&a[b]=2"):
        with pytest.raises(StripeError):
            decode_form(bad)


def test_metadata_numeric_keys_stay_keys() -> None:
    """Metadata keys are free text: `metadata[0]` is not turned into a list."""
    assert decode_form(b"metadata[0]=a") == {"metadata": {"0": "a"}}


def test_empty_body_is_no_parameters() -> None:
    assert decode_form(b"") == {}


@pytest.mark.parametrize("raw", [
    b"amount[=5", b"amount]=5", b"[x]=1", b"a[b]c=1", b"novalue", b"%FF=1", b"\xff=1",
    b"metadata=x&metadata[a]=b", b"metadata[a]=b&metadata=x",
])
def test_malformed_forms_are_a_400(raw: bytes) -> None:
    """Bad brackets, a field without '=', bad UTF-8, or a value mixed with a hash: 400."""
    with pytest.raises(StripeError) as info:
        decode_form(raw)
    assert info.value.status == 400 and info.value.type == "invalid_request_error"


def test_digest_ignores_parameter_order_but_not_values_or_list_order() -> None:
    """The same parameters in another order are the same request; other values are not."""
    a = pairs_digest(parse_pairs(b"amount=1&currency=usd&expand[]=a&expand[]=b"))
    assert a == pairs_digest(parse_pairs(b"currency=usd&expand[]=a&amount=1&expand[]=b"))
    assert a != pairs_digest(parse_pairs(b"amount=2&currency=usd&expand[]=a&expand[]=b"))
    assert a != pairs_digest(parse_pairs(b"amount=1&currency=usd&expand[]=b&expand[]=a"))


def test_require_names_the_missing_param() -> None:
    with pytest.raises(StripeError) as info:
        require({"amount": ""}, "amount")
    assert info.value.body()["error"] == {
        "message": "Missing required param: amount.", "type": "invalid_request_error",
        "code": "parameter_missing", "param": "amount",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
    }


@pytest.mark.parametrize("value", ["ten", "1.5", "", "0", "-3", None])
def test_as_positive_int_refuses_non_integers_and_amounts_below_one(value: object) -> None:
    with pytest.raises(StripeError) as info:
        as_positive_int(value, "amount")
    assert info.value.code == "parameter_invalid_integer" and info.value.param == "amount"


def test_typed_parameters_accept_stripes_spellings() -> None:
    assert as_positive_int("42", "amount") == 42
    assert as_bool("true", "confirm") is True and as_bool("false", "confirm") is False
    assert as_currency("USD") == "usd"
    assert as_metadata({"payment_id": "p"}) == {"payment_id": "p"}
    for bad in (lambda: as_bool("yes", "confirm"), lambda: as_currency("dollars"),
                lambda: as_metadata("flat"), lambda: as_metadata({"a": {"b": "c"}})):
        with pytest.raises(StripeError):
            bad()


def test_ids_look_like_stripes_and_do_not_repeat() -> None:
    ids = {new_id("ch") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("ch_") and len(i) == 27 and i[3:].isalnum() for i in ids)
    assert new_request_id().startswith("req_")
