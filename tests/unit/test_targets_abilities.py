"""What a target offers (harness.targets.abilities): the view ladder, fault families, the banner."""

from __future__ import annotations

import json

import pytest

from harness.targets.abilities import (
    Abilities,
    coverage,
    coverage_lines,
    evidence_plan,
    family_plan,
)

DB = "postgresql://svc:s3cret-pw@db.internal:5432/shop"
QUERY = "SELECT id, status, charge_id, amount FROM orders"
# The families a target's own abilities decide (webhooks: the stand-in's endpoints do).
FAMILIES = ("provider", "failpoints", "database", "clock", "workers")


@pytest.mark.parametrize(("abilities", "view"), [
    (Abilities(), "reads"),
    (Abilities(snapshot=True), "snapshot"),
    (Abilities(snapshot=True, database_url=DB, db_query=QUERY), "snapshot"),
    (Abilities(database_url=DB, db_query=QUERY), "sql"),
    (Abilities(database_url=DB), "reads"),
    (Abilities(db_query=QUERY), "reads"),
    (Abilities(reconcile=True, clock=True, failpoints=True, service_pid=42), "reads"),
])
def test_view_ladder(abilities: Abilities, view: str) -> None:
    """The view: snapshot when offered, else SQL when both URL and query are given, else reads."""
    assert abilities.view == view


def test_as_dict_never_contains_the_database_url() -> None:
    """summary.json's abilities say a database URL was `given`, never the URL or its password."""
    data = Abilities(snapshot=True, database_url=DB, db_query=QUERY, service_pid=7).as_dict()
    assert data == {
        "snapshot": True, "reconcile": False, "clock": False, "failpoints": False,
        "database_url": "given", "db_query": QUERY, "service_pid": 7, "adapter": None,
    }
    dumped = json.dumps(data)
    assert DB not in dumped and "s3cret-pw" not in dumped and "db.internal" not in dumped
    assert Abilities().as_dict()["database_url"] is None


def test_reference_offers_everything() -> None:
    """payrace's own service: snapshot, reconcile, clock and (by default) failpoints."""
    assert Abilities.reference(DB) == Abilities(True, True, True, True, DB, None, None)
    assert Abilities.reference(failpoints=False) == Abilities(True, True, True, False)


def plan(abilities: Abilities, family: str) -> tuple[bool, str]:
    [entry] = family_plan(abilities, [family])
    assert set(entry) == {"family", "applies", "why"} and entry["family"] == family
    assert isinstance(entry["why"], str) and entry["why"]
    return entry["applies"], entry["why"]


def test_provider_faults_always_apply() -> None:
    """The stand-in's faults reach every target, whatever it offers."""
    for abilities in (Abilities(), Abilities.reference()):
        applies, why = plan(abilities, "provider")
        assert applies and "stand-in" in why


def test_failpoints_need_the_ability() -> None:
    """Failpoints apply only to a target offering /_admin/failpoints; the reason says which."""
    applies, why = plan(Abilities(failpoints=True), "failpoints")
    assert applies and why == "the target offers /_admin/failpoints"
    applies, why = plan(Abilities(snapshot=True, reconcile=True, clock=True), "failpoints")
    assert not applies and why == "the target offers no /_admin/failpoints"


def test_database_faults_need_the_database_url() -> None:
    """Connection kills apply only with --database-url; a query alone is not enough."""
    applies, why = plan(Abilities(database_url=DB), "database")
    assert applies and "terminated" in why
    assert DB not in why  # the banner never shows the URL
    for abilities in (Abilities(db_query=QUERY), Abilities.reference()):
        applies, why = plan(abilities, "database")
        assert not applies
        assert why.startswith("give --database-url")


def test_clock_always_applies_and_says_whether_the_services_clock_moves() -> None:
    """The provider's clock always jumps; the service's own only when it offers the endpoint."""
    applies, moved = plan(Abilities(clock=True), "clock")
    assert applies
    assert "25 h" in moved and "service's own clock (POST /_admin/clock)" in moved
    assert "not moved" not in moved
    applies, unmoved = plan(Abilities(), "clock")
    assert applies
    assert "25 h" in unmoved
    assert "the service's own clock is not moved (it offers no POST /_admin/clock)" in unmoved


def test_workers_need_the_service_pid() -> None:
    """Worker kills apply only with --service-pid, naming the pid."""
    applies, why = plan(Abilities(service_pid=4321), "workers")
    assert applies and "--service-pid 4321" in why and "SIGKILL" in why
    applies, why = plan(Abilities(), "workers")
    assert not applies and why.startswith("give --service-pid")


def test_family_plan_keeps_the_asked_order_and_refuses_unknown_families() -> None:
    """One entry per asked family, in order; an unknown family never applies."""
    entries = family_plan(Abilities(), [*FAMILIES, "meteor"])
    assert [e["family"] for e in entries] == [
        "provider", "failpoints", "database", "clock", "workers", "meteor"]
    assert [e["applies"] for e in entries] == [True, False, False, True, False, False]
    assert entries[-1]["why"] == "unknown fault family 'meteor'"
    assert family_plan(Abilities(), []) == []
    everything = Abilities(True, True, True, True, DB, QUERY, 1)
    assert all(e["applies"] for e in family_plan(everything, FAMILIES))


def test_evidence_plan_names_the_view_and_how_settling_happens() -> None:
    """The view's source follows the ladder; settling reconciles only when offered."""
    snap = evidence_plan(Abilities(snapshot=True, reconcile=True), 15.0)
    assert set(snap) == {"database_view", "settle"}
    assert snap["database_view"] == "GET /_admin/snapshot"
    assert snap["settle"].startswith("POST /_admin/reconcile, then GET /payments/{id}")
    assert "(at most 15 s)" in snap["settle"]
    sql = evidence_plan(Abilities(database_url=DB, db_query=QUERY), 2.5)
    assert sql["database_view"] == "--db-query on --database-url (read-only)"
    assert sql["settle"].startswith("GET /payments/{id}")
    assert "/_admin/reconcile" not in sql["settle"] and "(at most 2.5 s)" in sql["settle"]
    assert DB not in str(sql)
    assert evidence_plan(Abilities(), 10)["database_view"] == (
        "payrace's own GET /payments/{id} of every payment it created")


def test_coverage_lines_list_applied_skipped_view_and_settling() -> None:
    """The banner: applied families with reasons, skipped ones with reasons, view, settling."""
    abilities = Abilities(clock=True, service_pid=99)
    cov = coverage(abilities, FAMILIES, 15.0)
    assert cov["abilities"] == abilities.as_dict()
    assert cov["faults"] == family_plan(abilities, FAMILIES)
    why = {e["family"]: e["why"] for e in cov["faults"]}
    assert coverage_lines(cov) == [
        f"faults that apply: provider ({why['provider']}); clock ({why['clock']}); "
        f"workers ({why['workers']})",
        f"skipped: failpoints ({why['failpoints']}); database ({why['database']})",
        f"database view: {cov['database_view']}",
        f"settling: {cov['settle']}",
    ]
    assert cov["database_view"] == evidence_plan(abilities, 15.0)["database_view"]
    assert cov["settle"] == evidence_plan(abilities, 15.0)["settle"]


def test_coverage_lines_without_skips_or_faults() -> None:
    """Nothing skipped: no `skipped:` line; no family at all: `none` apply."""
    full = coverage(Abilities.reference(DB), ["provider", "failpoints"], 10.0)
    lines = coverage_lines(full)
    assert len(lines) == 3
    why = {e["family"]: e["why"] for e in full["faults"]}
    assert lines[0] == (
        f"faults that apply: provider ({why['provider']}); failpoints ({why['failpoints']})")
    assert lines[1] == "database view: GET /_admin/snapshot"
    assert lines[2].startswith("settling: POST /_admin/reconcile")
    assert coverage_lines(coverage(Abilities(), [], 1.0))[0] == "faults that apply: none"


def test_reads_through_an_adapter_are_named_as_such() -> None:
    """With --adapter, the view and the settling say the reads go through it, not the contract."""
    plan = evidence_plan(Abilities(adapter="/x/payrace_adapter.py:OrdersApi"), 10)
    assert plan["database_view"].startswith("payrace's own reads through the adapter")
    assert "payrace_adapter.py:OrdersApi" in plan["settle"]
    assert "GET /payments" not in plan["database_view"] + plan["settle"]
