"""Each variant over HTTP against real PostgreSQL and the stand-in: its happy path, and its flaw
made deterministic with a stand-in fault or a failpoint, with the stand-in's ledger as witness."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from harness.provision.postgres import Provisioned, fresh_database
from harness.provision.service import running_service
from harness.stripe_standin import StandinAdmin
from tests.fixtures_postgres import REFERENCE_SCHEMA

pytestmark = pytest.mark.integration


class Services:
    """Each (variant, workers) started once per module on its own database, failpoints on."""

    def __init__(self, stack: contextlib.ExitStack, server_url: str, standin_url: str) -> None:
        self.stack = stack
        self.server_url = server_url
        self.standin_url = standin_url
        self.started: dict[tuple[str, int], str] = {}

    def __call__(self, variant: str, workers: int = 1) -> str:
        key = (variant, workers)
        if key not in self.started:
            prefix = f"t_variants_{variant}_{workers}"
            database = self.stack.enter_context(
                fresh_database(self.server_url, prefix, REFERENCE_SCHEMA)
            )
            self.started[key] = self.stack.enter_context(
                running_service(
                    variant, workers, database, self.standin_url, failpoints=True, lease_seconds=30
                )
            )
        return self.started[key]


ServiceFactory = Services


@pytest.fixture(scope="module")
def service(postgres_server: Provisioned, standin_url: str) -> Iterator[Services]:
    with contextlib.ExitStack() as stack:
        yield Services(stack, postgres_server.url, standin_url)


@pytest.fixture(autouse=True)
def _disarm(service: Services) -> Iterator[None]:
    yield
    # Failpoints live in each service's database; never leave one armed for the next test.
    for url in service.started.values():
        with contextlib.suppress(httpx.HTTPError):
            httpx.delete(url + "/_admin/failpoints", timeout=10)


def create(url: str, amount: int = 1000, customer: str | None = None) -> str:
    body: dict[str, Any] = {"amount": amount, "currency": "usd"}
    if customer is not None:
        body["customer"] = customer
    response = httpx.post(url + "/payments", json=body, timeout=10)
    assert response.status_code == 201, response.text
    payment_id: str = response.json()["id"]
    return payment_id


def charge(url: str, payment_id: str, client: httpx.Client | None = None) -> httpx.Response:
    if client is not None:
        return client.post(f"/payments/{payment_id}/charge")
    return httpx.post(f"{url}/payments/{payment_id}/charge", timeout=30)


def status_of(url: str, payment_id: str) -> str:
    status: str = httpx.get(f"{url}/payments/{payment_id}", timeout=10).json()["status"]
    return status


def arm_failpoint(url: str, name: str, action: str, count: int = 1) -> None:
    response = httpx.post(
        url + "/_admin/failpoints",
        json={"name": name, "action": action, "count": count},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def gate(payment_id: str, timeout_ms: int) -> dict[str, Any]:
    return {
        "action": "gate",
        "path": "/v1/charges",
        "payment_id": payment_id,
        "n": 2,
        "timeout_ms": timeout_ms,
    }


def concurrently(*calls: Callable[[], httpx.Response]) -> list[int]:
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return sorted(f.result().status_code for f in futures)


def race_two(url: str, payment_id: str) -> list[int]:
    """Two charge requests for one payment at once, on two connections; their statuses."""
    with httpx.Client(base_url=url, timeout=30) as a, httpx.Client(base_url=url, timeout=30) as b:
        return concurrently(lambda: charge(url, payment_id, a), lambda: charge(url, payment_id, b))


def after_charge_fault(action: str, payment_id: str, count: int) -> dict[str, Any]:
    return {"action": action, "path": "/v1/charges", "payment_id": payment_id, "count": count}


def clients_on_distinct_workers(url: str, n: int) -> list[httpx.Client]:
    """Keep-alive connections, each accepted by a different worker process (by its pid)."""
    by_pid: dict[int, httpx.Client] = {}
    for _ in range(200):
        client = httpx.Client(base_url=url, timeout=30)
        pid = client.get("/_admin/health").json()["pid"]
        if pid in by_pid or len(by_pid) >= n:
            client.close()
        else:
            by_pid[pid] = client
        if len(by_pid) == n:
            return list(by_pid.values())
    for client in by_pid.values():
        client.close()
    raise AssertionError(f"only reached workers {sorted(by_pid)} of {n} in 200 connections")


# ---- happy paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["naive", "mutex", "pr145", "safe", "dunning"])
def test_each_variant_charges_a_payment_once_and_records_the_charge(
    variant: str, service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service(variant)
    payment_id = create(url, amount=1234)
    response = charge(url, payment_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed" and body["id"] == payment_id
    again = charge(url, payment_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_processed"
    charges = standin_admin.charges(payment_id)
    assert [(c["id"], c["amount"]) for c in charges] == [(body["charge_id"], 1234)]
    assert (
        httpx.get(f"{url}/payments/{payment_id}", timeout=10).json()["charge_id"]
        == (body["charge_id"])
    )


# ---- naive and mutex: the race ----------------------------------------------------------------


def test_naive_charges_twice_when_two_requests_race(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("naive")
    payment_id = create(url)
    standin_admin.arm([gate(payment_id, timeout_ms=5000)])
    statuses = race_two(url, payment_id)
    assert statuses == [200, 200]
    assert len(standin_admin.charges(payment_id)) == 2


def test_mutex_with_two_workers_charges_twice_when_requests_land_in_both(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("mutex", workers=2)
    payment_id = create(url)
    standin_admin.arm([gate(payment_id, timeout_ms=5000)])
    first, second = clients_on_distinct_workers(url, 2)
    try:
        statuses = concurrently(
            lambda: charge(url, payment_id, first), lambda: charge(url, payment_id, second)
        )
    finally:
        first.close()
        second.close()
    assert statuses == [200, 200]
    assert len(standin_admin.charges(payment_id)) == 2


def test_mutex_with_one_worker_serialises_the_same_race(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("mutex", workers=1)
    payment_id = create(url)
    # The gate never fills (the lock keeps the second request away), so it opens on timeout.
    standin_admin.arm([gate(payment_id, timeout_ms=600)])
    statuses = race_two(url, payment_id)
    assert statuses == [200, 409]
    assert len(standin_admin.charges(payment_id)) == 1


# ---- pr145: passes its own race test, fails when an answer or a commit is lost ------------------


def test_pr145_serialises_concurrent_requests_as_its_own_test_showed(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("pr145")
    payment_id = create(url)
    standin_admin.arm([gate(payment_id, timeout_ms=600)])
    statuses = race_two(url, payment_id)
    assert statuses == [200, 409]
    assert len(standin_admin.charges(payment_id)) == 1


@pytest.mark.parametrize("fault", ["drop_after", "error_after"])
def test_pr145_lost_provider_answer_then_client_retry_charges_twice(
    fault: str, service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("pr145")
    payment_id = create(url)
    standin_admin.arm(
        [{"action": fault, "path": "/v1/charges", "payment_id": payment_id, "count": 1}]
    )
    first = charge(url, payment_id)
    assert first.status_code == 502, first.text
    assert set(first.json()["error"]) >= {"code", "provider_code", "correlation_id"}
    assert status_of(url, payment_id) == "pending"  # the rollback forgot the charge
    retry = charge(url, payment_id)
    assert retry.status_code == 200, retry.text
    charges = standin_admin.charges(payment_id)
    assert len(charges) == 2
    assert charges[0]["idempotency_key"] != charges[1]["idempotency_key"]


def test_pr145_failed_commit_then_client_retry_charges_twice(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("pr145")
    payment_id = create(url)
    arm_failpoint(url, "before_commit", "drop_connection")
    first = charge(url, payment_id)
    assert first.status_code == 503, first.text
    assert first.json()["error"]["code"] == "database_error"
    assert status_of(url, payment_id) == "pending"
    assert charge(url, payment_id).status_code == 200
    assert len(standin_admin.charges(payment_id)) == 2


# ---- safe: the same attacks, one charge ---------------------------------------------------------


@pytest.mark.parametrize("fault", ["drop_after", "error_after"])
def test_safe_lost_provider_answer_then_client_retry_charges_once(
    fault: str, service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("safe")
    payment_id = create(url)
    standin_admin.arm(
        [{"action": fault, "path": "/v1/charges", "payment_id": payment_id, "count": 1}]
    )
    first = charge(url, payment_id)
    retry = charge(url, payment_id)
    assert first.status_code == 200, first.text  # the SDK's retry with the same key recovered it
    assert retry.status_code == 409
    charges = standin_admin.charges(payment_id)
    assert [c["id"] for c in charges] == [first.json()["charge_id"]]
    assert charges[0]["idempotency_key"] == f"payrace-charge-{payment_id}"


def test_safe_commit_failure_is_settled_by_the_reconciler_without_a_second_charge(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("safe")
    payment_id = create(url)
    arm_failpoint(url, "before_commit", "drop_connection")
    first = charge(url, payment_id)
    assert first.status_code == 503, first.text
    assert status_of(url, payment_id) == "processing"
    assert charge(url, payment_id).status_code == 409  # still leased: no second attempt
    counts = httpx.post(url + "/_admin/reconcile", json={"force": True}, timeout=30).json()
    assert counts == {"redriven": 1, "completed": 1, "failed": 0}
    assert status_of(url, payment_id) == "completed"
    assert len(standin_admin.charges(payment_id)) == 1


def test_safe_unanswered_charge_stays_processing_until_the_reconciler_replays_the_key(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("safe")
    payment_id = create(url)
    # The charge is made and its answer lost; the SDK's retry (same key) meets a 503 before
    # the replay: the outcome stays unknown.
    retry_refused = {**after_charge_fault("error_before", payment_id, 1), "nth": 2, "status": 503}
    standin_admin.arm([after_charge_fault("drop_after", payment_id, count=1), retry_refused])
    first = charge(url, payment_id)
    assert first.status_code == 202 and first.json()["status"] == "processing"
    unexpired = httpx.post(url + "/_admin/reconcile", timeout=30).json()
    assert unexpired["redriven"] == 0  # the lease is respected
    counts = httpx.post(url + "/_admin/reconcile", json={"force": True}, timeout=30).json()
    assert counts["completed"] == 1
    assert status_of(url, payment_id) == "completed"
    assert len(standin_admin.charges(payment_id)) == 1


def test_safe_reconciler_completes_a_payment_left_by_a_crash_after_the_charge(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("safe")
    payment_id = create(url)
    arm_failpoint(url, "after_charge", "crash")
    with pytest.raises(httpx.HTTPError):  # the worker died mid-request
        charge(url, payment_id)
    _wait_healthy(url)  # uvicorn's supervisor replaced the worker
    assert status_of(url, payment_id) == "processing"
    assert len(standin_admin.charges(payment_id)) == 1
    counts = httpx.post(url + "/_admin/reconcile", json={"force": True}, timeout=30).json()
    assert counts == {"redriven": 1, "completed": 1, "failed": 0}
    payment = httpx.get(f"{url}/payments/{payment_id}", timeout=10).json()
    charges = standin_admin.charges(payment_id)
    assert payment["status"] == "completed"
    assert [c["id"] for c in charges] == [payment["charge_id"]]


def test_safe_declined_card_fails_the_payment_without_a_charge(
    service: ServiceFactory, standin_admin: StandinAdmin
) -> None:
    url = service("safe")
    payment_id = create(url, customer="decline")
    response = charge(url, payment_id)
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "card_declined"
    assert status_of(url, payment_id) == "failed"
    assert charge(url, payment_id).status_code == 409
    assert standin_admin.charges(payment_id) == []


def _wait_healthy(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/_admin/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer /_admin/health within {timeout} s")
