"""harness.targets against real services: probing abilities, preflight, reads and the SQL view.

The own services (tests/services) run as real subprocesses on their own PostgreSQL databases,
charging through a real stand-in; each is launched once per module.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from harness.adapters import ContractAdapter
from harness.errors import EXIT_PROVISION, EXIT_USAGE, ProvisionError, UsageError
from harness.model.http_target import probe_http_target
from harness.provision.postgres import Provisioned
from harness.stripe_standin import StandinAdmin, running_standin
from harness.targets import abilities as abilities_module
from harness.targets.abilities import PROBE_TRIES, Abilities, probe_abilities
from harness.targets.preflight import preflight
from harness.targets.standin import ledger_end
from harness.targets.view import HttpReader, sql_rows
from tests.integration.broken_target import serving
from tests.services.launch import OwnService, running_own_service

pytestmark = pytest.mark.integration

WARM_UP_S = 15.0
# The services give the provider 1 s by default; a loaded machine must not turn a charge into
# an ambiguous 202 here (no test of this module injects a provider fault).
PATIENT = {"PROVIDER_TIMEOUT_S": "10"}
PAYMENTS_SQL = "SELECT id, status, charge_id, amount, currency FROM payment_attempts"
ALIASED_SQL = (
    "SELECT p.id AS id, p.status AS status, p.charge_id AS charge_id, p.amount AS amount, "
    "p.currency AS currency FROM payment_attempts AS p ORDER BY p.created_at"
)


def warmed_up(svc: OwnService) -> OwnService:
    """Wait until a worker answers a read (any status), as payrace's commands do before probing.

    Workers start after the supervisor announces its port; on a loaded machine the first
    request can be slow; these tests call probe_abilities and preflight directly.
    """
    deadline = time.monotonic() + WARM_UP_S
    while True:
        try:
            httpx.get(f"{svc.url}/payments/pa_warm_up", timeout=WARM_UP_S)
            return svc
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def aiohttp_service(postgres_server: Provisioned, standin_url: str) -> Iterator[OwnService]:
    """charges_aiohttp (correct): snapshot and clock endpoints, no reconcile, no failpoints."""
    with running_own_service("charges_aiohttp", postgres_server.url, standin_url,
                             env=PATIENT) as svc:
        yield warmed_up(svc)


@pytest.fixture(scope="module")
def threads_service(postgres_server: Provisioned, standin_url: str) -> Iterator[OwnService]:
    """orders_threads (correct): only the three contract endpoints."""
    with running_own_service("orders_threads", postgres_server.url, standin_url,
                             env=PATIENT) as svc:
        yield warmed_up(svc)


def new_payment(http: httpx.Client, amount: int = 1500) -> str:
    resp = http.post("/payments", json={"amount": amount, "currency": "usd", "customer": "amy"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def charged_payment(http: httpx.Client, amount: int = 2500) -> tuple[str, str]:
    payment_id = new_payment(http, amount)
    resp = http.post(f"/payments/{payment_id}/charge", headers={"Idempotency-Key": payment_id})
    assert resp.status_code == 200, resp.text
    return payment_id, str(resp.json()["charge_id"])


def table(database_url: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- probe_abilities ----------------------------------------------------------------------


def test_probe_finds_snapshot_and_clock_on_charges_aiohttp(aiohttp_service: OwnService) -> None:
    """charges_aiohttp answers snapshot and clock only; the user's options pass through."""
    found = probe_abilities(aiohttp_service.url, database_url=aiohttp_service.database_url,
                            db_query=PAYMENTS_SQL, service_pid=aiohttp_service.pid)
    assert (found.snapshot, found.clock, found.reconcile, found.failpoints) == (
        True, True, False, False)
    assert found == Abilities(snapshot=True, clock=True,
                              database_url=aiohttp_service.database_url,
                              db_query=PAYMENTS_SQL, service_pid=aiohttp_service.pid)
    assert found.view == "snapshot"


def test_probe_finds_nothing_on_orders_threads(threads_service: OwnService) -> None:
    """orders_threads offers only the contract: every optional ability is False."""
    assert probe_abilities(threads_service.url) == Abilities()
    assert probe_abilities(threads_service.url).view == "reads"


def test_probe_of_a_url_nothing_listens_on_finds_nothing() -> None:
    """A refused connection is no ability, never an exception."""
    assert probe_abilities(f"http://127.0.0.1:{free_port()}") == Abilities()


class _SlowFirst(BaseHTTPRequestHandler):
    """Answers every request, but the first `slow` ones to `slow_path` only after `delay_s`:
    a service whose socket is bound before its workers are ready, or a busy machine."""

    slow = 0
    slow_path = ""
    delay_s = 0.0
    seen: list[str]
    lock = threading.Lock()

    def _answer(self) -> None:
        with self.lock:
            self.seen.append(f"{self.command} {self.path}")
            late = self.path == self.slow_path and sum(
                1 for s in self.seen if s.endswith(f" {self.slow_path}")) <= self.slow
        if late:
            time.sleep(self.delay_s)
        known = self.path in ("/_admin/clock",)
        data = json.dumps({"ok": True} if known else {"error": {"code": "not_found"}}).encode()
        with contextlib.suppress(OSError):  # the prober gave up on a late answer: no one reads it
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def slow_first_server(path: str, slow: int, delay_s: float) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Slow", (_SlowFirst,),
                   {"slow_path": path, "slow": slow, "delay_s": delay_s, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


PROBE_PATH = "/payments/pay_payrace_probe"  # the read probe_http_target sends


def test_a_slow_first_answer_is_asked_again_not_taken_for_absence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe that times out is asked again: a slow clock endpoint is still offered, and a
    target slow to answer its first request is still found (both failed a CI run once)."""
    monkeypatch.setattr(abilities_module, "PROBE_TIMEOUT_S", 0.3)
    with slow_first_server("/_admin/clock", slow=1, delay_s=1.0) as (url, seen):
        found = probe_abilities(url)
    assert found.clock, seen
    assert seen.count("POST /_admin/clock") == 2  # timed out once, answered the second time
    with slow_first_server(PROBE_PATH, slow=1, delay_s=1.0) as (url, seen):
        probe_http_target(url, ContractAdapter(), timeout_s=0.3)
    assert seen == [f"GET {PROBE_PATH}"] * 2


def test_a_target_that_never_answers_in_time_is_a_provision_error() -> None:
    """Every try times out: ProvisionError naming the timeout, after PROBE_TRIES asks."""
    with (slow_first_server(PROBE_PATH, slow=1000, delay_s=1.0) as (url, seen),
          pytest.raises(ProvisionError, match="did not answer \\(ReadTimeout")):
        probe_http_target(url, ContractAdapter(), timeout_s=0.2)
    assert len(seen) == PROBE_TRIES


def test_a_refused_target_fails_at_once_without_asking_again() -> None:
    """Nothing listens (a wrong --target): one try, then ProvisionError naming ConnectError."""
    with pytest.raises(ProvisionError, match="did not answer \\(ConnectError") as caught:
        probe_http_target(f"http://127.0.0.1:{free_port()}", ContractAdapter())
    assert "--target" in str(caught.value)


def test_probing_moves_nothing(
    aiohttp_service: OwnService, standin_admin: StandinAdmin
) -> None:
    """Probing (clock probe 0 s included) changes no row, no clock, no answer, no ledger entry."""
    with httpx.Client(base_url=aiohttp_service.url, timeout=10) as http:
        pending = new_payment(http)
        completed, _ = charged_payment(http)

        def state() -> tuple[Any, ...]:
            return (
                table(aiohttp_service.database_url,
                      "SELECT * FROM payment_attempts ORDER BY id"),
                table(aiohttp_service.database_url, "SELECT offset_s FROM service_clock"),
                http.get("/_admin/snapshot").json(),
                http.get(f"/payments/{pending}").json(),
                http.get(f"/payments/{completed}").json(),
                ledger_end(standin_admin),
            )

        before = state()
        found = probe_abilities(aiohttp_service.url)
        assert found.clock  # the clock probe was answered, so it did reach the service
        after = state()
    assert after == before
    assert before[1] == [{"offset_s": 0.0}]
    assert before[3]["status"] == "pending" and before[4]["status"] == "completed"


# ---- preflight -------------------------------------------------------------------------------


@pytest.mark.parametrize("service_fixture", ["aiohttp_service", "threads_service"])
def test_preflight_on_a_correct_service_finds_its_charge(
    request: pytest.FixtureRequest, service_fixture: str, standin_url: str,
    standin_admin: StandinAdmin,
) -> None:
    """Preflight returns the payment it created and the charge the ledger holds for it."""
    svc: OwnService = request.getfixturevalue(service_fixture)
    with StandinAdmin(standin_url) as admin:
        seen = preflight(svc.url, admin)
    assert set(seen) == {"payment_id", "charge_id", "answer", "seconds"}
    assert seen["answer"] == "HTTP 200"
    [charge] = standin_admin.charges(seen["payment_id"])
    assert seen["charge_id"] == charge["id"]
    assert charge["amount"] == 1000
    read = httpx.get(f"{svc.url}/payments/{seen['payment_id']}", timeout=10).json()
    assert read["status"] == "completed" and read["amount"] == 1000


def test_preflight_names_another_stripe_url_when_the_stand_in_saw_nothing(
    postgres_server: Provisioned, standin_url: str, standin_admin: StandinAdmin
) -> None:
    """Service charging through another stand-in: exit 3, 'saw no request … another Stripe URL'."""
    with running_standin(seed=1) as other_url, running_own_service(
        "charges_aiohttp", postgres_server.url, other_url, env=PATIENT
    ) as svc, StandinAdmin(other_url) as other, StandinAdmin(standin_url) as ours:
        with pytest.raises(ProvisionError) as caught:
            preflight(warmed_up(svc).url, ours)
        [elsewhere] = other.charges()  # the charge did happen, on the other stand-in
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_PROVISION == 3
    assert message.startswith("Preflight: payment ")
    assert f"the stand-in at {standin_url} saw no request at all" in message
    assert "another Stripe URL" in message
    assert str(elsewhere["payment_id"]) in message
    assert standin_admin.ledger_entries() == []


def test_preflight_names_metadata_when_charges_carry_no_payment_id(
    standin_url: str, standin_admin: StandinAdmin
) -> None:
    """Charges without metadata[payment_id]: exit 3 naming metadata[payment_id]."""
    with serving("no_metadata", standin_url) as url, StandinAdmin(standin_url) as admin, \
            pytest.raises(ProvisionError) as caught:
        preflight(url, admin)
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_PROVISION
    assert "charged 1 time(s)" in message
    assert "every charge must carry metadata[payment_id]" in message
    assert len(standin_admin.charges()) == 1


# ---- HttpReader -------------------------------------------------------------------------------


def test_http_reader_reads_many_payments_and_leaves_out_unknown_ids(
    aiohttp_service: OwnService,
) -> None:
    """Every known id maps to its GET body; ids answering 404 are left out."""
    with httpx.Client(base_url=aiohttp_service.url, timeout=10) as http:
        ids = [new_payment(http, amount=100 + i) for i in range(5)]
        done, charge_id = charged_payment(http)
        expected = {pid: http.get(f"/payments/{pid}").json() for pid in [*ids, done]}
    reader = HttpReader(aiohttp_service.url)
    try:
        rows = reader([*ids, "pa_unknown", done, "pa_unknown_too"])
        assert rows == expected
        assert rows[ids[3]] == {"id": ids[3], "status": "pending", "charge_id": None,
                                "amount": 103, "currency": "usd"}
        assert rows[done]["charge_id"] == charge_id
        assert reader([ids[0], "pa_unknown"]) == {ids[0]: expected[ids[0]]}  # the serial path
        assert reader([]) == {}
    finally:
        reader.close()


class _Gate(BaseHTTPRequestHandler):
    """Answers `GET /payments/<id>` only once `parties` reads are in flight together."""

    barrier: threading.Barrier

    def do_GET(self) -> None:
        pid = self.path.rsplit("/", 1)[-1]
        if pid.startswith("missing"):
            self._send(404, {"error": {"code": "not_found"}})
            return
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self._send(500, {"error": {"code": "read_alone"}})
            return
        self._send(200, {"status": "pending", "amount": 1})  # no id: the reader adds it

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def gate_server(parties: int) -> Iterator[str]:
    handler = type("Gate", (_Gate,), {"barrier": threading.Barrier(parties, timeout=3.0)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_reader_reads_concurrently() -> None:
    """Six reads are in flight at once: a server answering only then gets every one."""
    ids = [f"p{i}" for i in range(6)]
    with gate_server(len(ids)) as url:
        reader = HttpReader(url)
        try:
            rows = reader([*ids, "missing1"])
        finally:
            reader.close()
    assert rows == {pid: {"id": pid, "status": "pending", "amount": 1} for pid in ids}


# ---- sql_rows ---------------------------------------------------------------------------------


def test_sql_rows_returns_the_aliased_columns(aiohttp_service: OwnService) -> None:
    """The SELECT's rows keyed by id, status, charge_id, amount, currency, matching the API."""
    with httpx.Client(base_url=aiohttp_service.url, timeout=10) as http:
        pending = new_payment(http, amount=777)
        done, charge_id = charged_payment(http, amount=888)
        api = {pid: http.get(f"/payments/{pid}").json() for pid in (pending, done)}
    rows = sql_rows(aiohttp_service.database_url, ALIASED_SQL)
    assert rows and all(set(r) == {"id", "status", "charge_id", "amount", "currency"}
                        for r in rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id[pending] == api[pending] == {
        "id": pending, "status": "pending", "charge_id": None, "amount": 777, "currency": "usd"}
    assert by_id[done] == api[done]
    assert by_id[done]["charge_id"] == charge_id


def test_sql_rows_adds_currency_and_stringifies_ids(threads_service: OwnService) -> None:
    """Without a currency column it is None; a non-text id comes back as a string."""
    with httpx.Client(base_url=threads_service.url, timeout=10) as http:
        payment_id = new_payment(http, amount=321)
    rows = sql_rows(
        threads_service.database_url,
        "SELECT id, state AS status, charge_ref AS charge_id, amount FROM orders "
        f"WHERE id = '{payment_id}'",
    )
    assert rows == [{"id": payment_id, "status": "pending", "charge_id": None, "amount": 321,
                     "currency": None}]
    [numbered] = sql_rows(threads_service.database_url,
                          "SELECT 42 AS id, 'failed' AS status, NULL AS charge_id, 5 AS amount")
    assert numbered["id"] == "42"


def test_sql_rows_names_a_missing_column(aiohttp_service: OwnService) -> None:
    """A query without charge_id is a UsageError (exit 2) naming what it returned and lacks."""
    with httpx.Client(base_url=aiohttp_service.url, timeout=10) as http:
        new_payment(http)
    with pytest.raises(UsageError) as caught:
        sql_rows(aiohttp_service.database_url,
                 "SELECT id, status AS state, amount FROM payment_attempts")
    assert caught.value.exit_code == EXIT_USAGE
    message = str(caught.value)
    assert message.startswith("--db-query must return columns id, status, charge_id, amount")
    assert message.endswith("missing status, charge_id")


def test_sql_rows_on_a_missing_table_is_a_provision_error(aiohttp_service: OwnService) -> None:
    """SQL the database refuses is exit 3: '--db-query failed' with PostgreSQL's reason."""
    with pytest.raises(ProvisionError) as caught:
        sql_rows(aiohttp_service.database_url, "SELECT id, status, charge_id, amount FROM nope")
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_PROVISION
    assert message.startswith("--db-query failed on the database at ")
    assert 'relation "nope" does not exist' in message


def test_sql_rows_runs_read_only(aiohttp_service: OwnService) -> None:
    """A data-modifying WITH is refused by PostgreSQL (READ ONLY), and nothing changes."""
    with httpx.Client(base_url=aiohttp_service.url, timeout=10) as http:
        payment_id = new_payment(http, amount=444)
    sneaky = (
        "WITH changed AS (UPDATE payment_attempts SET amount = 1 "
        f"WHERE id = '{payment_id}' RETURNING id, status, charge_id, amount, currency) "
        "SELECT * FROM changed"
    )
    with pytest.raises(ProvisionError) as caught:
        sql_rows(aiohttp_service.database_url, sneaky)
    assert "--db-query failed" in str(caught.value)
    assert "read-only transaction" in str(caught.value)
    assert table(aiohttp_service.database_url,
                 f"SELECT amount FROM payment_attempts WHERE id = '{payment_id}'") == [
        {"amount": 444}]
