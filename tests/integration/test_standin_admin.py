"""The admin API: health, the ledger read incrementally and written as JSON Lines, reset, clock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def charge(url: str, payment_id: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/charges", headers=AUTH, data={
        "amount": "100", "currency": "usd", "source": "tok_visa",
        "metadata[payment_id]": payment_id})


def test_health_names_the_standin(standin_admin: StandinAdmin) -> None:
    """GET /_standin/health → ok, standin "payrace", a version, with a Request-Id header."""
    health = standin_admin.health()
    assert health["ok"] is True and health["standin"] == "payrace" and health["version"]
    resp = httpx.get(f"{standin_admin.url}/_standin/health")
    assert resp.headers["Request-Id"].startswith("req_")


def test_ledger_reads_incrementally_with_a_cursor(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """Pages of `limit` entries; next_cursor resumes exactly where the last page stopped."""
    for i in range(3):
        charge(standin, f"pay_{i}")
    first = standin_admin.ledger(cursor=0, limit=4)
    assert [e["seq"] for e in first["entries"]] == [1, 2, 3, 4]
    rest = standin_admin.ledger(cursor=first["next_cursor"])
    assert [e["seq"] for e in rest["entries"]] == [5, 6]
    empty = standin_admin.ledger(cursor=rest["next_cursor"])
    assert empty == {"entries": [], "next_cursor": 6}
    charge(standin, "pay_3")
    assert [e["kind"] for e in standin_admin.ledger(cursor=6)["entries"]] == ["charge", "request"]


def test_an_error_answer_says_what_was_wrong_in_the_ledger(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """A refused request's ledger entry carries the error message; a good one has none."""
    cursor = standin_admin.health()["ledger_entries"]
    created = httpx.post(f"{standin}/v1/payment_intents", headers=AUTH, data={
        "amount": "100", "currency": "usd", "payment_method": "pm_card_visa"}).json()
    refused = httpx.post(f"{standin}/v1/payment_intents/{created['id']}/confirm", headers=AUTH,
                         data={"metadata[payment_id]": "pay_1"})
    assert refused.status_code == 400
    requests = [e for e in standin_admin.ledger(cursor=cursor)["entries"]
                if e["kind"] == "request"]
    assert [e["status"] for e in requests] == [200, 400]
    assert "error" not in requests[0]
    assert requests[1]["error"] == "Received unknown parameter: metadata"


def test_ledger_dump_writes_json_lines(
    standin: str, standin_admin: StandinAdmin, tmp_path: Path
) -> None:
    """POST /_standin/ledger/dump writes every entry as one JSON object per line."""
    charge(standin, "pay_dump")
    target = tmp_path / "run" / "ledger.jsonl"
    assert standin_admin.dump_ledger(str(target)) == 2
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines == standin_admin.ledger_entries()


def test_ledger_dump_to_an_unwritable_path_is_a_400_naming_path(
    standin_admin: StandinAdmin, tmp_path: Path
) -> None:
    """A directory where the file should go is refused, naming the path."""
    resp = httpx.post(f"{standin_admin.url}/_standin/ledger/dump", json={"path": str(tmp_path)})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "path"


def test_reset_clears_objects_keys_faults_and_ledger(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """After reset the ledger is empty, faults are gone and an old key executes anew."""
    headers = {**AUTH, "Idempotency-Key": "kr"}
    data = {"amount": "100", "currency": "usd", "source": "tok_visa"}
    first = httpx.post(f"{standin}/v1/charges", headers=headers, data=data).json()
    standin_admin.arm([{"action": "latency", "ms": 1}])
    standin_admin.reset()
    assert standin_admin.ledger() == {"entries": [], "next_cursor": 0}
    assert standin_admin.faults() == []
    again = httpx.post(f"{standin}/v1/charges", headers=headers, data=data)
    assert again.json()["id"] != first["id"] and "Idempotent-Replayed" not in again.headers
    assert httpx.get(f"{standin}/v1/charges/{first['id']}", headers=AUTH).status_code == 404


def test_clock_moves_forward_and_stamps_the_ledger(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """advance_clock returns the new time, and later ledger entries carry it."""
    before = standin_admin.health()["now"]
    now = standin_admin.advance_clock(3600)
    assert now >= before + 3600
    charge(standin, "pay_t")
    assert standin_admin.ledger_entries()[0]["time"] >= before + 3600


def test_a_day_passing_renews_only_keys_used_within_the_window(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """Keys used in the last N real seconds survive the jump (an attempt in progress); older
    ones are forgotten, and a bad window is a 400 naming the field."""
    key = {"Authorization": AUTH["Authorization"]}
    data = {"amount": "500", "currency": "usd", "source": "tok_visa"}
    old = httpx.post(f"{standin}/v1/charges", headers={**key, "Idempotency-Key": "k_old"},
                     data=data).json()
    time.sleep(2.0)  # far outside the window below, which k_new is well inside
    new = httpx.post(f"{standin}/v1/charges", headers={**key, "Idempotency-Key": "k_new"},
                     data=data).json()
    standin_admin.advance_clock(25 * 3600, renew_keys_used_within_s=1.5)
    again = {k: httpx.post(f"{standin}/v1/charges", headers={**key, "Idempotency-Key": k},
                           data=data) for k in ("k_old", "k_new")}
    assert again["k_new"].json()["id"] == new["id"]
    assert again["k_new"].headers.get("Idempotent-Replayed") == "true"
    assert again["k_old"].json()["id"] != old["id"]
    for field, bad in (("renew_keys_used_within_s", -1), ("except_keys", "k_new")):
        refused = httpx.post(f"{standin}/_standin/clock", json={"advance_seconds": 1, field: bad})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field


def test_armed_rules_are_listed_with_their_counters(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """GET /_standin/faults shows each rule as armed, with matched/fired counts; DELETE clears."""
    assert standin_admin.arm([{"action": "latency", "ms": 1, "payment_id": "pay_l"}]) == 1
    charge(standin, "pay_l")
    charge(standin, "pay_other")
    [rule] = standin_admin.faults()
    assert (rule["action"], rule["ms"], rule["matched"], rule["fired"]) == ("latency", 1, 1, 1)
    assert standin_admin.clear_faults() == 1 and standin_admin.faults() == []


def test_advanced_clock_moves_time_but_wall_stays_real(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """Every entry has `wall` (real time) beside `time` (the stand-in's clock)."""
    standin_admin.advance_clock(86400)
    charge(standin, "pay_w")
    for entry in standin_admin.ledger_entries():
        assert entry["time"] - entry["wall"] >= 86400 - 1
        assert abs(entry["wall"] - time.time()) < 60


def test_release_gates_lets_waiting_requests_through_and_keeps_the_rule(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """A gate that will never fill reports `waiting`; release_gates frees it, the rule stays."""
    standin_admin.arm([{"action": "gate", "n": 5, "timeout_ms": 30_000, "payment_id": "pay_g"}])
    held = threading.Thread(target=charge, args=(standin, "pay_g"))
    held.start()
    deadline = time.monotonic() + 5
    while standin_admin.faults()[0]["waiting"] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin_admin.faults()[0]["waiting"] == 1
    assert standin_admin.release_gates("pay_other") == 0
    assert standin_admin.release_gates("pay_g") == 1
    held.join(timeout=5)
    assert not held.is_alive() and len(standin_admin.charges("pay_g")) == 1
    assert standin_admin.faults()[0]["waiting"] == 0
    resp = httpx.post(f"{standin}/_standin/faults/release", json={"payment_id": 5})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "payment_id"
