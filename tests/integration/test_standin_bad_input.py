"""Bad input gets Stripe's error envelope naming what was wrong, and never costs a ledger entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
GOOD = {"amount": "1000", "currency": "usd", "source": "tok_visa",
        "metadata[payment_id]": "pay_ok"}


@pytest.fixture
def http(standin: str, standin_admin: StandinAdmin) -> Iterator[httpx.Client]:
    """A raw HTTP client; the ledger already holds one charge that no bad input may lose."""
    with httpx.Client(base_url=standin, timeout=10) as client:
        assert client.post("/v1/charges", data=GOOD, headers=AUTH).status_code == 200
        yield client
    assert len(standin_admin.charges("pay_ok")) == 1
    entries = standin_admin.ledger_entries()
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))


def error_of(resp: httpx.Response) -> dict[str, Any]:
    assert resp.headers["Request-Id"].startswith("req_")
    error: dict[str, Any] = resp.json()["error"]
    return error


def test_unknown_url_is_stripes_unrecognized_request_url(http: httpx.Client) -> None:
    """404 invalid_request_error "Unrecognized request URL (GET: /v1/nothing)"."""
    resp = http.get("/v1/nothing", headers=AUTH)
    assert resp.status_code == 404
    assert error_of(resp)["message"].startswith("Unrecognized request URL (GET: /v1/nothing)")
    assert http.post("/elsewhere").status_code == 404


@pytest.mark.parametrize(("data", "code", "param"), [
    ({"currency": "usd", "source": "tok_visa"}, "parameter_missing", "amount"),
    ({"amount": "ten", "currency": "usd", "source": "tok_visa"}, "parameter_invalid_integer",
     "amount"),
    ({"amount": "0", "currency": "usd", "source": "tok_visa"}, "parameter_invalid_integer",
     "amount"),
    ({"amount": "-5", "currency": "usd", "source": "tok_visa"}, "parameter_invalid_integer",
     "amount"),
    ({"amount": "5", "source": "tok_visa"}, "parameter_missing", "currency"),
    ({"amount": "5", "currency": "usd"}, "parameter_missing", "source"),
    ({"amount": "5", "currency": "usd", "source": "tok_visa", "colour": "red"},
     "parameter_unknown", "colour"),
])
def test_missing_or_ill_typed_parameters_name_the_param(
    http: httpx.Client, data: dict[str, str], code: str, param: str
) -> None:
    """Each bad parameter is a 400 with Stripe's code and `param` naming it."""
    resp = http.post("/v1/charges", data=data, headers=AUTH)
    assert resp.status_code == 400
    error = error_of(resp)
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)


def test_unknown_test_card_is_resource_missing(http: httpx.Client) -> None:
    """A source that is not one of Stripe's test methods is 'No such token'."""
    resp = http.post("/v1/charges", data={**GOOD, "source": "tok_bogus"}, headers=AUTH)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "resource_missing"


@pytest.mark.parametrize("body", [b"amount[=5", b"metadata=x&metadata[a]=b", b"\xff\xfe=1"])
def test_malformed_form_body_is_a_400(http: httpx.Client, body: bytes) -> None:
    """Unbalanced brackets, a value mixed with a hash, or non-UTF-8 bytes: 400, nothing stored."""
    headers = {**AUTH, "Content-Type": "application/x-www-form-urlencoded",
               "Idempotency-Key": "bad-body"}
    resp = http.post("/v1/charges", content=body, headers=headers)
    assert resp.status_code == 400 and error_of(resp)["type"] == "invalid_request_error"
    ok = http.post("/v1/charges", data={**GOOD, "metadata[payment_id]": "pay_b"},
                   headers={**AUTH, "Idempotency-Key": "bad-body"})
    assert ok.status_code == 200 and "Idempotent-Replayed" not in ok.headers


def test_json_body_is_refused_as_stripe_v1_takes_forms(http: httpx.Client) -> None:
    """A JSON body is a 400 that says form encoding is expected."""
    resp = http.post("/v1/charges", json={"amount": 5}, headers=AUTH)
    assert resp.status_code == 400 and "form-encoded" in error_of(resp)["message"]


def test_missing_and_invalid_api_keys_are_401_and_not_stored(http: httpx.Client) -> None:
    """No key, a publishable key, or a bad scheme: 401; the key stays free for a good request."""
    for headers in ({}, {"Authorization": "Bearer pk_test_x"}, {"Authorization": "Token x"}):
        resp = http.post("/v1/charges", data=GOOD, headers={**headers, "Idempotency-Key": "k401"})
        assert resp.status_code == 401
        assert error_of(resp)["type"] == "invalid_request_error"
    ok = http.post("/v1/charges", data={**GOOD, "metadata[payment_id]": "pay_k"},
                   headers={**AUTH, "Idempotency-Key": "k401"})
    assert ok.status_code == 200


@pytest.mark.parametrize("key", ["sk_live_abc123", "rk_live_abc123"])
def test_live_keys_are_refused_with_payrace_never_talks_to_live_mode(
    http: httpx.Client, standin_admin: StandinAdmin, key: str
) -> None:
    """A live key is a 401 saying payrace never talks to live mode; the key is never recorded."""
    resp = http.post("/v1/charges", data=GOOD, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 401
    assert "payrace never talks to live mode" in error_of(resp)["message"]
    assert key not in str(standin_admin.ledger_entries())


def test_basic_auth_with_a_test_key_is_accepted(http: httpx.Client) -> None:
    """Stripe also takes the key as the Basic-auth user name; so does the stand-in."""
    resp = http.post("/v1/charges", data={**GOOD, "metadata[payment_id]": "pay_basic"},
                     auth=(TEST_API_KEY, ""))
    assert resp.status_code == 200


@pytest.mark.parametrize(("rules", "field"), [
    ([{"action": "explode"}], "action"),
    ([{"action": "latency", "colour": "red"}], "colour"),
    ([{"action": "gate", "status": 500}], "status"),
    ([{"action": "latency", "ms": -1}], "ms"),
    ([{"action": "error_before", "probability": 2}], "probability"),
    ([{"action": "latency"}, {"action": "drop_after", "nth": 0}], "nth"),
    ({"not": "a list"}, "rules"),
])
def test_bad_fault_rule_is_a_400_naming_the_field_and_arms_nothing(
    http: httpx.Client, standin_admin: StandinAdmin, rules: Any, field: str
) -> None:
    """An unknown action or field, or a bad value, arms nothing and names the field."""
    resp = http.post("/_standin/faults", json=rules)
    assert resp.status_code == 400
    error = error_of(resp)
    assert error["param"] == field and field in error["message"]
    assert standin_admin.faults() == []


def test_invalid_json_to_the_admin_api_is_a_400(http: httpx.Client) -> None:
    """Admin endpoints take JSON; anything else is a 400 with Stripe's envelope."""
    resp = http.post("/_standin/faults", content=b"{nope",
                     headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "Invalid JSON" in error_of(resp)["message"]
    for body in ({"advance_seconds": -1}, {"advance_seconds": "soon"}, {}):
        resp = http.post("/_standin/clock", json=body)
        assert resp.status_code == 400 and error_of(resp)["param"] == "advance_seconds"
    assert http.get("/_standin/ledger", params={"cursor": "x"}).status_code == 400
