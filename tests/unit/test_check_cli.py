"""`payrace check DIR`: any evidence directory judged, written up, and exited by its verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.between_examples import mark_resetting
from harness.cli import main
from harness.ledger_behind import write_mark
from tests.sample_runs import write_sample_run

EVIDENCE = ("history.jsonl", "ledger.jsonl", "db.json")


def evidence(tmp_path: Path, variant: str, files: tuple[str, ...] = EVIDENCE) -> Path:
    """A run's evidence files alone, in a directory no run judged."""
    run = write_sample_run(tmp_path / f"run-{variant}", variant)
    out = tmp_path / f"evidence-{variant}"
    out.mkdir()
    for name in files:
        shutil.copyfile(run / name, out / name)
    return out


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args], prog_name="payrace")
    return result.exit_code, result.stdout, result.stderr


def summary(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((path / "summary.json").read_text())
    return data


def test_a_double_charge_is_a_violation_with_its_summary_junit_and_report(
        tmp_path: Path) -> None:
    ev = evidence(tmp_path, "pr145")
    code, out, err = check(str(ev))
    assert code == 1, out + err
    assert out.startswith("VIOLATION evidence evidence-pr145 (exit 1)")
    data = summary(ev)
    assert data["kind"] == "check" and data["verdict"] == "violation" and data["exit_code"] == 1
    checks = {c["checker"]: c["validity"] for c in data["checks"]}  # type: ignore[attr-defined]
    assert checks["no-duplicate-charge"] == "invalid"
    assert (ev / "junit.xml").is_file() and (ev / "index.html").is_file()
    assert "pay_" in (ev / "index.html").read_text()


def test_clean_evidence_is_verified_and_too_little_is_inconclusive(tmp_path: Path) -> None:
    ev = evidence(tmp_path, "safe")
    code, out, err = check(str(ev), "--min-charges", "1")
    assert code == 0, out + err
    code, out, _ = check(str(ev), "--min-charges", "100000")
    assert code == 4 and out.startswith("INCONCLUSIVE"), out
    assert summary(ev)["verdict"] == "inconclusive"  # a check's own summary is rewritten


@pytest.mark.parametrize("variant", ["safe", "pr145"])
def test_a_lagging_ledger_copy_is_judged_with_the_history_it_covers(
        tmp_path: Path, variant: str) -> None:
    """An explore killed while its ledger was a copy (ledger.behind says how many ops the last
    copy covers): that prefix is judged, the rest left out and said; the files are untouched."""
    ev = evidence(tmp_path, variant)
    history = (ev / "history.jsonl").read_bytes()
    ops = history.count(b"\n")
    whole, _, _ = check(str(ev), "--min-charges", "1")
    (ev / "summary.json").unlink()
    write_mark(ev, ops)
    code, out, err = check(str(ev), "--min-charges", "1")
    assert code == whole and whole == (0 if variant == "safe" else 1), out + err
    assert f"covers the first {ops} history op(s); the 0 recorded" in out
    # A copy that covers nothing, or a mark that cannot be read: no op is judged, so never a
    # pass; the ledger's own double charge still shows.
    for mark in ('{"history_ops": 0}', "{torn"):
        (ev / "ledger.behind").write_text(mark)
        (ev / "summary.json").unlink()
        code, out, err = check(str(ev), "--min-charges", "1")
        assert code == (4 if variant == "safe" else 1), out + err
        assert f"the {ops} recorded after its last copy were left out" in out
    assert (ev / "history.jsonl").read_bytes() == history


def test_a_directory_left_mid_reset_between_examples_is_inconclusive_and_judges_neither_file(
        tmp_path: Path) -> None:
    """An explore killed while it reset its parts between examples leaves one example's
    history beside the next one's emptied ledger: judged together, a correct service's
    charges would look never made. With example.resetting there, neither file is judged."""
    ev = evidence(tmp_path, "safe")
    (ev / "ledger.jsonl").write_text("")  # the stand-in's reset emptied its journal
    (ev / "db.json").unlink()
    code, out, err = check(str(ev), "--unsettled", "--min-charges", "1")
    assert code == 1, out + err  # what the mark prevents: a false violation
    (ev / "summary.json").unlink()
    mark_resetting(ev)
    history = (ev / "history.jsonl").read_bytes()
    code, out, err = check(str(ev), "--unsettled", "--min-charges", "1")
    assert code == 4 and out.startswith("INCONCLUSIVE"), out + err
    assert "example.resetting: payrace was killed while resetting its parts" in out
    assert (ev / "history.jsonl").read_bytes() == history


def test_history_parts_are_merged_and_a_torn_last_line_is_left_out(tmp_path: Path) -> None:
    """A distributed or killed run leaves per-process parts, maybe cut mid-line: judged all
    the same, the torn line said."""
    whole = evidence(tmp_path, "pr145")
    ev = evidence(tmp_path / "parts", "pr145", ("ledger.jsonl", "db.json"))
    lines = (whole / "history.jsonl").read_text().splitlines(keepends=True)
    by_process: dict[str, list[str]] = {}
    for line in lines:
        by_process.setdefault(json.loads(line)["process"].split(".")[0], []).append(line)
    for number, (_process, own) in enumerate(sorted(by_process.items())):
        (ev / f"history.jsonl.part-host-{number}").write_text("".join(own))
    last = ev / f"history.jsonl.part-host-{len(by_process) - 1}"
    last.write_text(last.read_text() + '{"index": 9, "type": "inv')  # killed mid-write
    code, out, err = check(str(ev), "--unsettled")
    assert code == 1, out + err
    assert (ev / "history.jsonl").is_file() and not list(ev.glob("history.jsonl.part-*"))
    notes = summary(ev)["notes"]
    assert any("torn" in note for note in notes)  # type: ignore[attr-defined]
    assert any("unsettled" in note for note in notes)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("files", "missing"), [
    (("ledger.jsonl",), "history.jsonl is missing"),
    (("history.jsonl",), "ledger.jsonl is missing (a run on your own stand-in leaves it there: "
                         "start it with --ledger-journal FILE"),
])
def test_a_directory_that_is_not_evidence_is_one_line_naming_what_is_missing(
        tmp_path: Path, files: tuple[str, ...], missing: str) -> None:
    ev = evidence(tmp_path, "safe", files)
    code, out, err = check(str(ev))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and missing in err and "expected a directory holding" in err
    code, _, err = check(str(tmp_path / "nowhere"))
    assert code == 2 and "is not a directory" in err


def test_a_db_view_row_that_is_not_an_object_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A DB view as payrace writes it (indented), one of its rows not an object: refused in
    one line naming the row and what is accepted, nothing written."""
    ev = evidence(tmp_path, "safe")
    rows = json.loads((ev / "db.json").read_text())
    rows.insert(2, "pay_x")
    (ev / "db.json").write_text(json.dumps(rows, indent=1))
    code, out, err = check(str(ev))
    assert code == 2 and out == ""
    assert err == (f"payrace: {ev / 'db.json'}: row 3 is \"pay_x\", not a payment row; "
                   "expected a JSON object per row (id, status, charge_id, amount, currency)\n")
    assert not (ev / "summary.json").exists()


@pytest.mark.parametrize(("previous", "refused"), [
    ('{"kind": "check", "stats": {"x": NaN}}', False),  # json's NaN: still a check's
    ('{"kind": "run", "kind": "check"}', False),  # the last of a repeated key, as json reads it
    ('{"kind": "explore"}', True),
    ('{"checks": []}', True),
    ('[{"kind": "check"}]', True),
    ("not json", True),
])
def test_only_a_previous_checks_summary_is_rewritten(
        tmp_path: Path, previous: str, refused: bool) -> None:
    ev = evidence(tmp_path, "safe")
    (ev / "summary.json").write_text(previous)
    code, _, err = check(str(ev), "--min-charges", "1")
    assert (code == 2 and "already holds a judged run" in err) if refused else code == 0, err
    assert ((ev / "summary.json").read_text() == previous) == refused


def test_a_run_payrace_judged_is_never_overwritten(tmp_path: Path) -> None:
    run = write_sample_run(tmp_path / "run", "pr145")
    before = (run / "summary.json").read_bytes()
    code, _, err = check(str(run))
    assert code == 2 and "already holds a judged run" in err
    assert (run / "summary.json").read_bytes() == before
