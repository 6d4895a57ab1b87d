"""`payrace explore --target python:module:factory`: a service object in payrace's process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.model.explore import STOPPED_AFTER
from harness.provision.postgres import Provisioned
from tests.integration.run_helpers import payrace

pytestmark = pytest.mark.integration
MODULE = "python:tests.services.inprocess_payments"
REPO = Path(__file__).resolve().parents[2]


def _explore(
    factory: str, server: Provisioned, standin_url: str, reports: Path, *extra: str
) -> tuple[int, str, dict[str, object]]:
    """Run the real CLI from the repository (where `tests.services` is importable)."""
    result = payrace(
        "explore", "--target", f"{MODULE}:{factory}", "--database-url", server.url,
        "--stripe-url", standin_url, "--reports-dir", str(reports), "--seed", "1", *extra,
        timeout=120,
    )  # fmt: skip
    runs = [p for p in reports.iterdir() if (p / "summary.json").is_file()]
    summary = json.loads((runs[0] / "summary.json").read_text()) if runs else {}
    # The ledger was a copy of --stripe-url's; the run ended, so no mark says it lags.
    assert not any((run / "ledger.behind").exists() for run in runs)
    return result.returncode, result.stderr + result.stdout, summary


def test_the_flawed_factory_charges_twice_after_a_lost_response(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Charging again with no idempotency key after a lost response: exit 1, no-duplicate-charge."""
    monkeypatch.chdir(REPO)
    # Provider faults only: the lost response is all it takes, and the search stays short.
    code, output, summary = _explore(
        "flawed", postgres_server, standin_url, tmp_path, "--max-examples", "40",
        "--faults", "provider",
    )
    assert code == 1, output
    assert "VIOLATION" in output and "no-duplicate-charge" in output
    parts = summary["parts"]
    assert isinstance(parts, dict)
    assert parts["target"] == {
        "tier": "python", "factory": "tests.services.inprocess_payments:flawed", "workers": 2,
    }


def test_the_correct_factory_is_verified_and_says_which_faults_applied(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stable key plus search-before-re-drive holds; the banner says what reached it."""
    monkeypatch.chdir(REPO)
    code, output, summary = _explore(
        "correct", postgres_server, standin_url, tmp_path, "--max-examples", "15"
    )
    assert code == 0, output
    assert "VERIFIED" in output
    assert "skipped: failpoints (an in-process Python target has no failpoints)" in output
    assert "database (the service's database connections are terminated" in output
    assert "database view: the object's snapshot()" in output
    coverage = summary["coverage"]
    assert isinstance(coverage, dict)
    applied = {f["family"]: f["applies"] for f in coverage["faults"]}
    assert applied == {
        "provider": True, "failpoints": False, "database": True, "clock": True, "workers": False,
        "webhooks": False,  # it registered no endpoint at the stand-in
    }


def test_a_charge_made_just_before_the_view_is_read_is_in_the_ledger_judged(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correct service whose worker charges right before its database view is read: the
    ledger is read after the view, so the paid order's charge is in it (verified), never a
    paid order with no money taken (a false db-consistency violation)."""
    monkeypatch.chdir(REPO)
    code, output, summary = _explore(
        "late", postgres_server, standin_url, tmp_path, "--max-examples", "8", "--faults", "none",
    )
    assert code == 0, output
    assert "VERIFIED" in output
    stats = summary["stats"]
    assert isinstance(stats, dict) and stats["charges"] >= 3, stats  # charged, in the views


@pytest.mark.parametrize(("factory", "code", "said"), [
    ("raising", 3, "the factory raised RuntimeError: inprocess_payments: no STRIPE_KEY"),
    ("lacking", 3, "the factory returned a _NoCharge without charge"),
    ("nowhere", 2, "module 'tests.services.inprocess_payments' has no attribute 'nowhere'"),
])
def test_a_factory_that_cannot_build_a_service_is_one_line(
    factory: str, code: int, said: str, postgres_server: Provisioned, standin_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Raises or lacks a method: exit 3; names what does not exist: exit 2. One line, no run dir."""
    monkeypatch.chdir(REPO)
    got, output, summary = _explore(factory, postgres_server, standin_url, tmp_path)
    lines = [line for line in output.splitlines() if line.startswith("payrace: ")]
    assert got == code, output
    assert said in lines[-1], output
    assert "Traceback" not in output
    assert summary == {}


def test_an_unimportable_module_is_a_usage_error(tmp_path: Path) -> None:
    """A module that does not exist: exit 2 naming it and the accepted form, before any part."""
    result = payrace("explore", "--target", "python:no_such_pkg.payments:make",
                     "--reports-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "payrace: --target python:no_such_pkg.payments:make: no module named 'no_such_pkg' "
        "(run payrace where it is importable, or install it); expected "
        "python:package.module:factory"
    )


def test_run_refuses_a_python_target(tmp_path: Path) -> None:
    """`payrace run` drives HTTP with Locust: exit 2 pointing at explore or serving it."""
    result = payrace("run", "retry_storm", "--target", f"{MODULE}:correct",
                     "--out", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "`payrace run` drives HTTP with Locust" in result.stderr
    assert "payrace explore" in result.stderr


def test_a_users_checker_judges_every_example(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--checker module:function` judges each example with the built-in checkers; summary.json
    and the report carry its result over all of them."""
    monkeypatch.chdir(REPO)
    code, output, summary = _explore(
        "correct", postgres_server, standin_url, tmp_path, "--max-examples", "5",
        "--faults", "provider", "--checker", "tests.own_checkers:check_charge_cap",
    )
    assert code == 0, output
    checks = summary["checks"]
    assert isinstance(checks, list)
    mine = [c for c in checks if c["checker"] == "charge-cap"]
    assert len(mine) == 1 and mine[0]["validity"] == "valid", checks
    assert mine[0]["stats"]["examples"] >= 1
    assert mine[0]["summary"].startswith("held in all")
    runs = [p for p in tmp_path.iterdir() if (p / "index.html").is_file()]
    assert 'data-checker="charge-cap"' in (runs[0] / "index.html").read_text()


@pytest.mark.parametrize(("factory", "lives"), [("dying", 30), ("dying_late", 90)])
def test_a_target_that_dies_mid_search_is_inconclusive_never_verified(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    factory: str, lives: int,
) -> None:
    """A service gone after its 30th payment, or its 90th (late: most of the search's creates
    held): every create after it fails, in a row to the end, so the examples after the death
    hold every invariant trivially. That is too little work to vouch for it: inconclusive
    (exit 4), saying the target stopped creating payments, never a pass."""
    monkeypatch.chdir(REPO)
    code, output, summary = _explore(
        factory, postgres_server, standin_url, tmp_path, "--max-examples", "60",
        "--faults", "provider",
    )
    assert code == 4, output
    assert "INCONCLUSIVE" in output and "stopped creating payments" in output, output
    stats = summary["stats"]
    assert isinstance(stats, dict)
    assert stats["creates"] - stats["creates_failed"] == lives, stats
    assert stats["creates_failed_last"] == stats["creates_failed"] >= STOPPED_AFTER, stats
