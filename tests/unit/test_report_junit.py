"""junit.xml: one test case per invariant; failures carry the because sentences."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report import write_report
from tests.sample_runs import write_sample_run


def _cases(run_dir: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    write_report(run_dir)
    root = ET.parse(run_dir / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    return suite, {c.get("name", ""): c for c in suite.findall("testcase")}


def test_each_invariant_is_one_test_case_and_violations_fail_with_their_because(
    tmp_path: Path,
) -> None:
    run_dir = write_sample_run(tmp_path / "pr145", "pr145")
    summary = json.loads((run_dir / "summary.json").read_text())
    suite, cases = _cases(run_dir)
    assert list(cases) == [c["checker"] for c in summary["checks"]]
    assert suite.get("tests") == "5" and suite.get("failures") == "3"
    for check in summary["checks"][:3]:
        failure = cases[check["checker"]].find("failure")
        assert failure is not None, check["checker"]
        assert failure.get("message") == check["summary"]
        assert failure.text == check["violations"][0]["because"]
    # a warning is reported but never fails the build
    warning = cases["retry-key-stability"]
    assert warning.find("failure") is None
    out = warning.find("system-out")
    assert out is not None and "no Idempotency-Key" in (out.text or "")
    assert len(cases["enough-work"]) == 0
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "violation" and props["command"] == summary["command"]


def test_a_verified_run_has_no_failures(tmp_path: Path) -> None:
    suite, cases = _cases(write_sample_run(tmp_path / "safe", "safe"))
    assert suite.get("failures") == "0" and len(cases) == 5
    assert all(c.find("failure") is None for c in cases.values())


def test_an_inconclusive_run_fails_its_undecided_invariant(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps({
        "run_id": "r", "verdict": "inconclusive", "target": "http://127.0.0.1:9", "checks": [
            {"checker": "enough-work", "validity": "unknown", "severity": "error",
             "summary": "0 charges executed; at least 1 needed.", "violations": []}]}))
    suite, cases = _cases(run_dir)
    failure = cases["enough-work"].find("failure")
    assert failure is not None and failure.get("type") == "inconclusive"
    assert failure.text == "0 charges executed; at least 1 needed."
    assert suite.get("failures") == "1"


def test_a_check_with_many_violations_lists_twenty_and_counts_the_rest(tmp_path: Path) -> None:
    run_dir = write_sample_run(tmp_path / "pr145", "pr145")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["checks"][0]["violations"] = [
        {"checker": "no-duplicate-charge", "payment_id": f"pay_{n}", "because": f"pay_{n} twice."}
        for n in range(25)
    ]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    _, cases = _cases(run_dir)
    failure = cases["no-duplicate-charge"].find("failure")
    assert failure is not None
    lines = (failure.text or "").splitlines()
    assert len(lines) == 21 and lines[0] == "pay_0 twice." and lines[-1].startswith("… and 5 more")
