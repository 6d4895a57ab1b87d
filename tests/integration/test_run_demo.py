"""`payrace demo`: judged by its rule (pr145 caught and safe verified), with a side-by-side page."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from harness.cli.demo_cmd import verdict_table
from harness.provision.postgres import Provisioned
from harness.runner.demo import PLAN, DemoStep, judge_demo, run_demo
from harness.runner.run import RunResult


def _result(verdict: str) -> RunResult:
    return RunResult(Path("."), verdict, {"verified": 0, "violation": 1}.get(verdict, 4), {})


def _step(scenario: str, variant: str) -> DemoStep:
    return DemoStep(scenario, variant, 1.0, 1, lesson="")


@pytest.mark.parametrize(("verdicts", "code"), [
    ({"pr145": "violation", "safe": "verified"}, 0),
    ({"pr145": "verified", "safe": "verified"}, 1),     # pr145 not caught: no story told
    ({"pr145": "violation", "safe": "violation"}, 1),   # safe broken
    ({"pr145": "violation", "safe": "inconclusive"}, 4),
])
def test_demo_exit_rule(verdicts: dict[str, str], code: int) -> None:
    """Exit 0 only when pr145 is caught and every safe run is verified."""
    results = [(_step("retry_storm", v), _result(verdict)) for v, verdict in verdicts.items()]
    assert judge_demo(results)[0] == code


def test_the_demo_plan_replays_the_prs_proof_and_fits_two_minutes() -> None:
    """The plan opens with PR #145's own test against pr145 and runs both scenarios on both
    variants; its load time leaves room for provisioning within two minutes."""
    assert (PLAN[0].scenario, PLAN[0].variant) == ("pr_proof", "pr145")
    pairs = {(s.scenario, s.variant) for s in PLAN}
    assert {("double_click", "pr145"), ("retry_storm", "pr145"), ("double_click", "safe"),
            ("retry_storm", "safe")} <= pairs
    assert sum(s.duration_s for s in PLAN[1:]) <= 40


@pytest.mark.integration
def test_short_demo_catches_pr145_and_verifies_safe(postgres_server: Provisioned,
                                                    tmp_path: Path) -> None:
    """A two-run demo (retry_storm on pr145 and safe) exits 0 and writes the comparison page."""
    plan = (DemoStep("retry_storm", "pr145", 4.0, 8, lesson="caught"),
            DemoStep("retry_storm", "safe", 4.0, 8, lesson="verified"))
    outcome = run_demo(tmp_path, plan=plan, server=postgres_server, progress=False)
    assert outcome.exit_code == 0, outcome.headline
    assert [r.verdict for _, r in outcome.results] == ["violation", "verified"]
    assert outcome.page == tmp_path / "demo" / "index.html"
    page = outcome.page.read_text()
    assert "pr145" in page and "safe" in page
    for _, result in outcome.results:
        assert (result.run_dir / "index.html").is_file()
    console = Console(width=200, record=True)
    console.print(verdict_table(outcome.results))
    text = console.export_text()
    assert "violation" in text and "verified" in text and "retry_storm" in text
