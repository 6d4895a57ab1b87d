"""The checker registry and the user's own checkers: one module plus one registration each."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from harness.checkers import (
    BUILTIN,
    SAFETY_CHECKERS,
    CheckerEntry,
    CheckResult,
    Evidence,
    compose,
    run_all,
    standard_checkers,
)
from harness.checkers.testing import HistoryBuilder, LedgerBuilder, row
from harness.checkers.user import user_checkers
from harness.cli import main
from harness.errors import UsageError
from harness.report import build_report, read_run, write_report
from harness.runner.spec import RunSpec, Target, resolve_scenario
from tests.own_checkers import check_charge_cap, check_penny_cap
from tests.sample_runs import write_sample_run

ACCEPTED = "expected module:function naming a checker function (evidence) -> CheckResult"


def _one_charge() -> Evidence:
    """A correct run: one payment charged once under a stable key, 1000 cents."""
    h, ledger = HistoryBuilder(), LedgerBuilder()
    h.create("w0", "pay_1", 0.0)
    h.charge_ok("w0", "pay_1", 0.1, "ch_1", key="payrace-charge-pay_1")
    ledger.charged(0.15, "pay_1", "ch_1", key="payrace-charge-pay_1")
    return Evidence(h.ops, ledger.entries, [row("pay_1", "completed", "ch_1")], True)


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_registry_is_the_order_of_run_all_and_of_the_explore_suite() -> None:
    """run_all's results, SAFETY_CHECKERS and the report's order all come from BUILTIN."""
    names = [entry.name for entry in BUILTIN]
    assert [r.checker for r in run_all(_one_charge())] == names
    assert list(SAFETY_CHECKERS) == [e.name for e in BUILTIN if e.per_example]
    assert names[-1] == "enough-work" and "enough-work" not in SAFETY_CHECKERS
    assert all(entry.description for entry in BUILTIN)


def test_the_report_describes_each_builtin_invariant_and_shows_a_users_own(
    tmp_path: Path,
) -> None:
    """The invariants table carries the registry's descriptions and a user's checker's row."""
    run_dir = write_sample_run(tmp_path / "r1", "safe", background_payments=2)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["checks"].append(check_charge_cap(_one_charge()).to_dict())
    (run_dir / "summary.json").write_text(json.dumps(summary))
    report = build_report(read_run(run_dir))
    described = {c["checker"]: c["description"] for c in report["checks"]}
    builtin = {e.name: e.description for e in BUILTIN if e.name in described}
    assert len(builtin) == 5  # the sample run has every built-in but target-contract
    assert described == builtin | {"charge-cap": ""}
    html = write_report(run_dir).read_text()
    assert '<tr class="valid error" data-checker="charge-cap">' in html
    assert f'title="{escape(BUILTIN[0].description)}">no-duplicate-charge</td>' in html


def test_a_new_checker_is_one_module_plus_one_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module with one function, named once as module:function, joins the suite last."""
    _module(tmp_path, monkeypatch, "shop_checks", '''
        from harness.checkers import CheckResult

        def check_whole_dollars(evidence):
            """Every charge is a whole number of dollars."""
            odd = [c for c in evidence.charges if c["amount"] % 100]
            return CheckResult("whole-dollars", "invalid" if odd else "valid")
    ''')
    entries = user_checkers(["shop_checks:check_whole_dollars"])
    assert [(e.name, e.severity, e.description, e.option) for e in entries] == [
        ("whole-dollars", "error", "Every charge is a whole number of dollars.",
         "shop_checks:check_whole_dollars"),
    ]
    results = run_all(_one_charge(), checkers=standard_checkers(extra=entries))
    assert [r.checker for r in results] == [*(e.name for e in BUILTIN), "whole-dollars"]
    assert (results[-1].validity, compose(results)) == ("valid", "valid")
    odd = _one_charge()
    odd.ledger[-1]["amount"] = 1050
    assert compose(run_all(odd, checkers=standard_checkers(extra=entries))) == "invalid"


def test_the_registration_decides_name_and_severity_and_a_raise_is_unknown() -> None:
    """A result is stamped with its registered name and severity; a warning never decides."""

    def check_anything(evidence: Evidence) -> CheckResult:
        return CheckResult("what-i-call-it", "invalid", "error", "all wrong")

    def check_exploding(evidence: Evidence) -> CheckResult:
        raise ValueError("no amount")

    extra = [CheckerEntry("advice", check_anything, "warning"),
             CheckerEntry("exploding", check_exploding)]
    results = run_all(_one_charge(), checkers=standard_checkers(extra=extra))
    assert [(r.checker, r.validity, r.severity) for r in results[-2:]] == [
        ("advice", "invalid", "warning"), ("exploding", "unknown", "error"),
    ]
    assert results[-1].summary == "checker exploding raised ValueError: no amount"
    assert compose(results[:-1]) == "valid"
    assert compose(results) == "unknown"


def test_a_severity_attribute_makes_a_user_checker_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check.severity = "warning"` on the function registers it as a warning."""
    _module(tmp_path, monkeypatch, "advice_checks", '''
        from tests.own_checkers import check_penny_cap

        def check_small(evidence):
            return check_penny_cap(evidence)

        check_small.severity = "warning"
    ''')
    (entry,) = user_checkers(["advice_checks:check_small"])
    assert (entry.name, entry.severity) == ("small", "warning")
    results = run_all(_one_charge(), checkers=standard_checkers(extra=[entry]))
    assert (results[-1].validity, results[-1].severity) == ("invalid", "warning")
    assert compose(results) == "valid"


def test_an_entry_point_of_an_installed_distribution_is_a_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution's `payrace.checkers` entry point is found by importlib.metadata and
    named by the entry point; `--checker` ones follow it."""
    _module(tmp_path, monkeypatch, "installed_checks", '''
        from tests.own_checkers import check_penny_cap as check_tiny
    ''')
    info = tmp_path / "shop_checks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shop-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[payrace.checkers]\nno-big-charges = installed_checks:check_tiny\n"
    )
    entries = user_checkers(["tests.own_checkers:check_charge_cap"])
    assert [(e.name, e.check, e.option) for e in entries] == [
        ("no-big-charges", check_penny_cap, ""),
        ("charge-cap", check_charge_cap, "tests.own_checkers:check_charge_cap"),
    ]
    assert entries[0].source == (
        "entry point no-big-charges = installed_checks:check_tiny (payrace.checkers)"
    )
    results = run_all(_one_charge(), checkers=standard_checkers(extra=entries))
    assert [(r.checker, r.validity) for r in results[-2:]] == [
        ("no-big-charges", "invalid"), ("charge-cap", "valid"),
    ]


def test_a_broken_entry_point_is_one_usage_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed entry point whose module is gone stops payrace with exit 2, not a trace."""
    info = tmp_path / "gone-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gone\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[payrace.checkers]\nghost = no_such_pkg_q:check\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UsageError) as raised:
        user_checkers()
    assert str(raised.value) == (
        "entry point ghost = no_such_pkg_q:check (payrace.checkers) failed to load: "
        "ModuleNotFoundError: No module named 'no_such_pkg_q'"
    )


@pytest.mark.parametrize(("specs", "message"), [
    (["own_checkers"], f"--checker own_checkers: {ACCEPTED}"),
    (["tests.own_checkers:"], f"--checker tests.own_checkers:: {ACCEPTED}"),
    (["no_such_pkg_q.mod:check"], "--checker no_such_pkg_q.mod:check: no module named "
     f"'no_such_pkg_q' (run payrace where it is importable, or install it); {ACCEPTED}"),
    (["tests.own_checkers:check_nothing"], "--checker tests.own_checkers:check_nothing: module "
     f"'tests.own_checkers' has no attribute 'check_nothing'; {ACCEPTED}"),
    (["tests.own_checkers:CAP_CENTS"], "--checker tests.own_checkers:CAP_CENTS: it is a int, "
     f"not callable; {ACCEPTED}"),
    (["tests.own_checkers:check_penny_cap", "tests.own_checkers:check_penny_cap"],
     "--checker tests.own_checkers:check_penny_cap: a checker named 'penny-cap' is already "
     "registered (--checker tests.own_checkers:check_penny_cap); give yours another name"),
    (["harness.checkers:check_no_duplicate_charge"],
     "--checker harness.checkers:check_no_duplicate_charge: a checker named "
     "'no-duplicate-charge' is already registered (a built-in checker); give yours another name"),
])  # fmt: skip
def test_a_bad_spec_is_one_line_naming_it_and_what_is_accepted(
    specs: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        user_checkers(specs)
    assert str(raised.value) == message


def test_a_severity_other_than_error_or_warning_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _module(tmp_path, monkeypatch, "loud_checks", '''
        def check_loud(evidence):
            pass

        check_loud.severity = "fatal"
    ''')
    with pytest.raises(UsageError, match=r"^--checker loud_checks:check_loud: its severity "
                       r"attribute is 'fatal'; expected 'error' \(the default"):
        user_checkers(["loud_checks:check_loud"])


@pytest.mark.parametrize("command", [
    ["run", "steady", "--target", "reference:safe"],
    ["explore", "--target", "reference:safe"],
])
def test_the_cli_refuses_a_bad_checker_before_any_work(command: list[str], tmp_path: Path) -> None:
    """`payrace run` and `payrace explore`: exit 2, one line, no run directory."""
    result = CliRunner().invoke(main, [*command, "--checker", "no_such_pkg_q:check",
                                       "--reports-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["payrace: --checker no_such_pkg_q:check: no module named 'no_such_pkg_q' "
                     f"(run payrace where it is importable, or install it); {ACCEPTED}"]
    assert list(tmp_path.iterdir()) == []


def test_the_reproduce_command_names_the_users_checkers() -> None:
    """A run's printed command repeats its --checker options (entry points find themselves)."""
    entries = user_checkers(["tests.own_checkers:check_charge_cap"])
    spec = RunSpec("steady", resolve_scenario("steady"), Target("reference", "safe"), users=1,
                   spawn_rate=1, duration_s=2, checkers=entries)
    assert spec.reproduce().endswith("--checker tests.own_checkers:check_charge_cap")


def test_the_documented_checker_registers_and_judges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/CONTRACTS.md's example checker, saved as a module and named once, judges a run."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md").read_text()
    section = docs.split("### The registry, and your own checkers", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    _module(tmp_path, monkeypatch, "documented_checks", code)
    entries = user_checkers(["documented_checks:check_whole_dollars"])
    assert compose(run_all(_one_charge(), checkers=standard_checkers(extra=entries))) == "valid"
    odd = _one_charge()
    odd.ledger[-1]["amount"] = 1050
    result = run_all(odd, checkers=standard_checkers(extra=entries))[-1]
    assert (result.checker, result.validity) == ("whole-dollars", "invalid")
    assert result.violations[0].because == "charge ch_1 took 1050 cents"
