"""The own services (tests/services) as real foreign targets: each service and mode honours the
contract, is race-free, and shows its flaw (or none) under lost responses and a 25 h clock jump,
with the stand-in's ledger as witness; a killed worker is replaced and nothing outlives them."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from harness.provision.postgres import Provisioned
from harness.stripe_standin import StandinAdmin
from tests.services.launch import SERVICES, OwnService, libpq_url, running_own_service

pytestmark = pytest.mark.integration

LEASE_S = 1.0
SETTLE_TIMEOUT_S = 10.0
CASES = [pytest.param(name, mode, id=f"{name}-{mode}")
         for name, modes in SERVICES.items() for mode in modes]
# The request that moves money: orders_threads confirms a PaymentIntent, charges_aiohttp
# creates a Charge (a prefix: `/v1/payment_intents/` is the confirm, never the create).
MONEY_PATH = {"orders_threads": "/v1/payment_intents/", "charges_aiohttp": "/v1/charges"}
GetService = Callable[[str, str], OwnService]


@pytest.fixture(scope="module")
def service(postgres_server: Provisioned, standin_url: str) -> Iterator[GetService]:
    """One running service per (name, mode), started on first use and shared by the module."""
    started: dict[tuple[str, str], OwnService] = {}
    with contextlib.ExitStack() as stack:

        def get(name: str, mode: str) -> OwnService:
            if (name, mode) not in started:
                started[name, mode] = stack.enter_context(running_own_service(
                    name, postgres_server.url, standin_url, mode=mode, lease_s=LEASE_S))
            return started[name, mode]

        yield get


@pytest.fixture
def own(postgres_server: Provisioned, standin_url: str) -> Callable[..., Any]:
    """A private service for a test that changes it (its clock, its workers)."""
    def start(name: str, mode: str = "correct") -> contextlib.AbstractContextManager[OwnService]:
        return running_own_service(name, postgres_server.url, standin_url, mode=mode,
                                   lease_s=LEASE_S)
    return start


def new_payment(http: httpx.Client, customer: str | None = "alice", amount: int = 1500) -> str:
    resp = http.post("/payments", json={"amount": amount, "currency": "usd", "customer": customer})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "pending" and body["amount"] == amount and body["currency"] == "usd"
    return str(body["id"])


def wait_for(http: httpx.Client, payment_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        body: dict[str, Any] = http.get(f"/payments/{payment_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            assert body["status"] == status, body
            return body
        time.sleep(0.1)


def wait_charges(admin: StandinAdmin, payment_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while len(charges := admin.charges(payment_id)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return charges


def drop_next_money_request(admin: StandinAdmin, name: str, payment_id: str) -> None:
    """The next money-moving request for the payment executes, then its connection resets."""
    path = MONEY_PATH[name]
    admin.arm([{"action": "drop_after", "path": path, "payment_id": payment_id, "count": 1}])


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_a_charge_completes_with_one_attributed_ledger_charge(
    service: GetService, standin_admin: StandinAdmin, name: str, mode: str
) -> None:
    with httpx.Client(base_url=service(name, mode).url, timeout=10) as http:
        payment_id = new_payment(http)
        resp = http.post(f"/payments/{payment_id}/charge", headers={"Idempotency-Key": "k1"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "completed" and body["id"] == payment_id
        read = http.get(f"/payments/{payment_id}").json()
        assert read == {"id": payment_id, "status": "completed", "charge_id": body["charge_id"],
                        "amount": 1500, "currency": "usd"}
        assert http.post(f"/payments/{payment_id}/charge").status_code == 409
    [charge] = standin_admin.charges(payment_id)
    assert charge["id"] == body["charge_id"] and charge["amount"] == 1500
    posts = [e for e in standin_admin.ledger_entries("request") if e["method"] == "POST"]
    assert posts and all(e["payment_id"] == payment_id for e in posts)  # metadata[payment_id]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_a_declined_card_fails_with_402_and_no_charge(
    service: GetService, standin_admin: StandinAdmin, name: str, mode: str
) -> None:
    with httpx.Client(base_url=service(name, mode).url, timeout=10) as http:
        payment_id = new_payment(http, customer="decline")
        resp = http.post(f"/payments/{payment_id}/charge")
        assert resp.status_code == 402, resp.text
        assert resp.json()["error"]["code"] == "card_declined"
        assert http.get(f"/payments/{payment_id}").json()["status"] == "failed"
        assert http.post(f"/payments/{payment_id}/charge").status_code == 409
    assert standin_admin.charges(payment_id) == []


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_thirty_concurrent_charges_of_one_payment_charge_once(
    service: GetService, standin_admin: StandinAdmin, name: str, mode: str
) -> None:
    with httpx.Client(base_url=service(name, mode).url, timeout=20) as http:
        payment_id = new_payment(http)
        barrier = threading.Barrier(30)

        def charge(_: int) -> int:
            barrier.wait()
            return http.post(f"/payments/{payment_id}/charge").status_code

        with ThreadPoolExecutor(30) as pool:
            statuses = Counter(pool.map(charge, range(30)))
        assert statuses == {200: 1, 409: 29}
        read = wait_for(http, payment_id, "completed")
    [charge_entry] = standin_admin.charges(payment_id)
    assert charge_entry["id"] == read["charge_id"]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_a_lost_response_is_settled_by_the_reconciler_or_shows_the_flaw(
    service: GetService, standin_admin: StandinAdmin, name: str, mode: str
) -> None:
    with httpx.Client(base_url=service(name, mode).url, timeout=10) as http:
        payment_id = new_payment(http)
        drop_next_money_request(standin_admin, name, payment_id)
        resp = http.post(f"/payments/{payment_id}/charge")
        if mode == "ambiguous_failed":
            # The flaw: the card was charged, the order says failed and refuses a retry.
            assert resp.status_code == 502, resp.text
            assert http.get(f"/payments/{payment_id}").json()["status"] == "failed"
            assert http.post(f"/payments/{payment_id}/charge").status_code == 409
            assert len(standin_admin.charges(payment_id)) == 1
            return
        assert resp.status_code == 202 and resp.json()["status"] == "processing", resp.text
        read = wait_for(http, payment_id, "completed")
    expected = 2 if mode == "fresh_key_redrive" else 1  # the flaw: a fresh key charges again
    charges = wait_charges(standin_admin, payment_id, expected)
    assert len(charges) == expected
    assert read["charge_id"] == charges[-1]["id"]


def test_orders_threads_redoes_a_lost_payment_intent_create_with_its_key(
    service: GetService, standin_admin: StandinAdmin
) -> None:
    with httpx.Client(base_url=service("orders_threads", "correct").url, timeout=10) as http:
        payment_id = new_payment(http)
        standin_admin.arm([{"action": "drop_after", "path": "/v1/payment_intents",
                            "payment_id": payment_id, "count": 1}])
        assert http.post(f"/payments/{payment_id}/charge").status_code == 202
        read = wait_for(http, payment_id, "completed")
    [charge] = standin_admin.charges(payment_id)
    assert charge["id"] == read["charge_id"]
    creates = [e for e in standin_admin.ledger_entries("request")
               if e["path"] == "/v1/payment_intents"]
    assert [e["replayed"] for e in creates] == [False, True]  # the same key, replayed


def test_stable_key_forever_charges_twice_once_the_provider_forgot_the_key(
    service: GetService, standin_admin: StandinAdmin
) -> None:
    with httpx.Client(base_url=service("charges_aiohttp", "stable_key_forever").url) as http:
        payment_id = new_payment(http)
        drop_next_money_request(standin_admin, "charges_aiohttp", payment_id)
        assert http.post(f"/payments/{payment_id}/charge").status_code == 202
        standin_admin.advance_clock(25 * 3600)  # before the lease expires: the key is pruned
        charges = wait_charges(standin_admin, payment_id, 2)
        assert len(charges) == 2  # the flaw shown: the same key, forgotten, charged again
        assert wait_for(http, payment_id, "completed")["charge_id"] == charges[1]["id"]


@pytest.mark.parametrize(("mode", "expected"), [("search_then_new_key", 2), ("correct", 1)])
def test_a_lost_answer_search_does_not_show_yet_is_charged_again_only_with_a_fresh_key(
    service: GetService, standin_admin: StandinAdmin, mode: str, expected: int
) -> None:
    """Search lags writes (https://docs.stripe.com/search#data-freshness): a re-drive that trusts
    an empty search and charges with a fresh key charges twice; the stable key replays."""
    with httpx.Client(base_url=service("charges_aiohttp", mode).url, timeout=10) as http:
        payment_id = new_payment(http)
        standin_admin.arm([{"action": "search_lag", "ms": 60_000, "payment_id": payment_id,
                            "money": True, "count": 1}])
        drop_next_money_request(standin_admin, "charges_aiohttp", payment_id)
        assert http.post(f"/payments/{payment_id}/charge").status_code == 202
        read = wait_for(http, payment_id, "completed")
    charges = wait_charges(standin_admin, payment_id, expected)
    assert len(charges) == expected and read["charge_id"] == charges[-1]["id"]


def test_charges_aiohttp_correct_searches_before_redriving_an_old_key(
    own: Callable[..., contextlib.AbstractContextManager[OwnService]],
    standin_admin: StandinAdmin,
) -> None:
    with own("charges_aiohttp") as svc, httpx.Client(base_url=svc.url, timeout=10) as http:
        payment_id = new_payment(http)
        drop_next_money_request(standin_admin, "charges_aiohttp", payment_id)
        assert http.post(f"/payments/{payment_id}/charge").status_code == 202
        moved = http.post("/_admin/clock", json={"advance_seconds": 90000})
        assert moved.status_code == 200 and moved.json() == {"offset_s": 90000}
        standin_admin.advance_clock(25 * 3600)
        read = wait_for(http, payment_id, "completed")
        snapshot = http.get("/_admin/snapshot").json()["payments"]
    [charge] = standin_admin.charges(payment_id)
    assert charge["id"] == read["charge_id"]
    assert [p for p in snapshot if p["id"] == payment_id] == [read]
    searches = [e for e in standin_admin.ledger_entries("request")
                if e["path"] == "/v1/charges/search"]
    assert searches, "the reconciler should have searched before charging"


def test_orders_threads_correct_settles_from_the_payment_intent_after_a_clock_jump(
    service: GetService, standin_admin: StandinAdmin
) -> None:
    with httpx.Client(base_url=service("orders_threads", "correct").url, timeout=10) as http:
        payment_id = new_payment(http)
        drop_next_money_request(standin_admin, "orders_threads", payment_id)
        assert http.post(f"/payments/{payment_id}/charge").status_code == 202
        standin_admin.advance_clock(25 * 3600)
        read = wait_for(http, payment_id, "completed")
    [charge] = standin_admin.charges(payment_id)
    assert charge["id"] == read["charge_id"]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_only_the_contract_and_the_documented_admin_endpoints_exist(
    service: GetService, standin_admin: StandinAdmin, name: str, mode: str
) -> None:
    with httpx.Client(base_url=service(name, mode).url, timeout=10) as http:
        assert http.get("/payments/nope").status_code == 404
        assert http.post("/payments/nope/charge").status_code == 404
        assert http.post("/payments", content=b"{not json").status_code in (400, 422)
        for bad in ({"amount": 0}, {"amount": "9"}, {"amount": True}, {"amount": 5, "currency": 7}):
            assert http.post("/payments", json=bad).status_code == 422, bad
        for path in ("/_admin/health", "/_admin/reconcile", "/_admin/failpoints"):
            assert http.post(path).status_code == 404 and http.get(path).status_code in (404, 405)
        admin = name == "charges_aiohttp" and mode == "correct"
        assert http.get("/_admin/snapshot").status_code == (200 if admin else 404)
        clock = http.post("/_admin/clock", json={"advance_seconds": -1})
        assert clock.status_code == (422 if admin else 404)


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of `pid`: the service's workers."""
    alive = set()
    for child in psutil.Process(pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.add(child.pid)
    return alive


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_killed_worker_is_replaced_and_nothing_outlives_the_service(
    own: Callable[..., contextlib.AbstractContextManager[OwnService]],
    postgres_server: Provisioned,
    standin_admin: StandinAdmin,
    name: str,
) -> None:
    with own(name) as svc:
        workers = children(svc.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while (victim in children(svc.pid) or len(children(svc.pid)) < 2) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        replaced = children(svc.pid)
        assert len(replaced) == 2 and victim not in replaced
        with httpx.Client(base_url=svc.url, timeout=10) as http:
            for _ in range(6):
                payment_id = new_payment(http)
                assert http.post(f"/payments/{payment_id}/charge").status_code == 200
        everyone = {svc.pid, *replaced}
    assert not [pid for pid in everyone if psutil.pid_exists(pid)]
    name_of_db = svc.database_url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(libpq_url(postgres_server.url)) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name_of_db,))
        assert found.fetchone() is None
