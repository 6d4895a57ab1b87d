"""The preflight's mis-wiring line says why nothing was charged, from the stand-in's ledger."""

from __future__ import annotations

from harness.targets.preflight import _miswired


def test_a_refused_request_is_quoted_with_its_error() -> None:
    seen = [
        {"kind": "request", "method": "POST", "path": "/v1/payment_intents", "status": 200},
        {"kind": "request", "method": "POST", "path": "/v1/payment_intents/pi_1/confirm",
         "status": 400, "error": "Received unknown parameter: metadata"},
    ]
    line = _miswired("http://svc", "http://stripe", "inv_1", "HTTP 422", seen, 2.0)
    assert "charged nothing (answers 200, 400" in line
    refused = "POST /v1/payment_intents/pi_1/confirm answered 400: Received unknown parameter"
    assert refused in line
    assert "\n" not in line


def test_without_an_error_the_line_still_names_the_first_request() -> None:
    seen = [{"kind": "request", "method": "POST", "path": "/v1/charges", "status": 401}]
    line = _miswired("http://svc", "http://stripe", "inv_1", "HTTP 500", seen, 15.0)
    assert "first POST /v1/charges)" in line and "API key" in line
