"""JUnit XML for CI: one test case per invariant; failures carry the checkers' because sentences."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

# How many because sentences one test case spells out; the rest are counted (the HTML has all).
MAX_LISTED = 20


def junit_tree(report: dict[str, Any]) -> ET.ElementTree[ET.Element]:
    """An invalid error-severity invariant is a <failure>; so is an undecided one when it makes
    the run inconclusive (an inconclusive run must never read as a pass); warnings and the
    rest pass, with what they found in <system-out>. The rules docs/CONTRACTS.md gives for
    junit.xml; the run's verdict comes from harness.checkers.compose.
    """
    checks = report["checks"]
    classname = f"payrace.{str(report['target']).replace('.', '_')}"
    failing = [_failure_type(c, report["verdict"]) for c in checks]
    counts = {"tests": str(len(checks)), "failures": str(sum(t is not None for t in failing)),
              "errors": "0", "skipped": "0"}
    root = ET.Element("testsuites", {"name": "payrace", **counts})
    suite = ET.SubElement(root, "testsuite", {
        "name": f"payrace {report['target']} {report['run_id']}",
        "time": f"{float(report.get('duration_s') or 0.0):.3f}",
        **counts,
    })
    if report.get("started"):
        suite.set("timestamp", str(report["started"]))
    props = ET.SubElement(suite, "properties")
    for name in ("run_id", "verdict", "target", "seed", "command", "exit_code"):
        ET.SubElement(props, "property", name=name, value=str(report.get(name)))
    for check, failure_type in zip(checks, failing, strict=True):
        case = ET.SubElement(suite, "testcase", classname=classname, name=check["checker"],
                             time="0")
        text = because_text(check)
        if failure_type is not None:
            node = ET.SubElement(case, "failure", message=check["summary"], type=failure_type)
            node.text = text
        elif check["validity"] != "valid":
            out = ET.SubElement(case, "system-out")
            out.text = f"{check['validity']} ({check['severity']}): {check['summary']}\n{text}"
    ET.indent(root)
    return ET.ElementTree(root)


def _failure_type(check: dict[str, Any], verdict: str) -> str | None:
    if check["severity"] != "error":
        return None
    if check["validity"] == "invalid":
        return "violation"
    if check["validity"] == "unknown" and verdict == "inconclusive":
        return "inconclusive"
    return None


def because_text(check: dict[str, Any]) -> str:
    """The because sentences, one per line, capped at MAX_LISTED with a count of the rest."""
    lines = list(check["because"][:MAX_LISTED])
    if len(check["because"]) > MAX_LISTED:
        lines.append(f"… and {len(check['because']) - MAX_LISTED} more (see index.html)")
    return "\n".join(lines) or check["summary"]


def write_junit(report: dict[str, Any], path: Path) -> Path:
    """Write junit.xml for the report's checks; return its path."""
    junit_tree(report).write(path, encoding="utf-8", xml_declaration=True)
    return path
