"""Helpers for the `payrace run` tests: run the real CLI, validate what a run directory holds."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.errors import EXIT_INCONCLUSIVE, EXIT_VERIFIED, EXIT_VIOLATION

EXIT_OF = {"verified": EXIT_VERIFIED, "violation": EXIT_VIOLATION,
           "inconclusive": EXIT_INCONCLUSIVE}
SUMMARY_KEYS = {"schema", "run_id", "kind", "command", "verdict", "exit_code", "target", "parts",
                "seed", "started", "duration_s", "checks", "stats", "faults"}
CHECK_KEYS = {"checker", "validity", "severity", "summary", "violations", "stats"}


def payrace(*args: str, timeout: float = 120.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `payrace` command line in a child process, as a CI job would."""
    command = [sys.executable, "-c", "import sys; from harness.cli import main; "
               "sys.argv[0] = 'payrace'; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def only_run_dir(out: Path) -> Path:
    """The one run directory a single `payrace run --out OUT` created."""
    runs = [p for p in out.iterdir() if p.is_dir() and (p / "summary.json").is_file()]
    assert len(runs) == 1, f"expected one run directory in {out}, found {runs}"
    return runs[0]


def check_summary(run_dir: Path, verdict: str) -> dict[str, Any]:
    """summary.json follows docs/CONTRACTS.md and carries the expected verdict."""
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS, SUMMARY_KEYS - set(summary)
    assert summary["schema"] == 1 and summary["kind"] == "run"
    assert summary["run_id"] == run_dir.name
    assert summary["verdict"] == verdict, _explain(summary)
    assert summary["exit_code"] == EXIT_OF[verdict]
    assert {"postgres", "stripe", "target", "load"} <= set(summary["parts"])
    assert summary["command"].startswith("payrace run") or "payrace run" in summary["command"]
    for check in summary["checks"]:
        assert set(check) >= CHECK_KEYS, check
        assert check["validity"] in ("valid", "invalid", "unknown")
    return summary


def check_junit(path: Path, summary: dict[str, Any]) -> ET.Element:
    """junit.xml names every check as a test case and fails exactly when the run is not verified."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    cases = [case for suite in suites for case in suite.findall("testcase")]
    names = {case.get("name") for case in cases}
    assert {c["checker"] for c in summary["checks"]} <= names
    failing = [case for case in cases if case.find("failure") is not None
               or case.find("error") is not None]
    if summary["verdict"] == "verified":
        assert failing == [], [c.get("name") for c in failing]
    else:
        assert failing, "a run that is not verified must fail in JUnit"
    return root


def check_history(run_dir: Path) -> list[dict[str, Any]]:
    """One merged history: indexes 0..n-1, time ordered, no per-process parts left behind."""
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    ops = [json.loads(line) for line in lines]
    assert [op["index"] for op in ops] == list(range(len(ops)))
    times = [op["time"] for op in ops]
    assert times == sorted(times)
    assert not list(run_dir.glob("history.jsonl.part-*"))
    return ops


def check(summary: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in summary["checks"] if c["checker"] == name]
    assert found, f"no {name} check in {[c['checker'] for c in summary['checks']]}"
    return found[0]


def _explain(summary: dict[str, Any]) -> str:
    return "; ".join(f"{c['checker']}={c['validity']}: {c['summary']}" for c in summary["checks"])
