"""Nothing lost when payrace dies: SIGKILL `payrace run` mid-load or `payrace explore`
mid-example, and its evidence is on disk, no process it started lives on, no temp dir is left,
and `payrace check` judges what is there."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.provision.postgres import Provisioned
from tests.integration.run_helpers import payrace

pytestmark = pytest.mark.integration


def _wait_for(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def _flag_values(children: list[psutil.Process], flag: str) -> list[Path]:
    """The paths the children were started with after `flag` (e.g. a temp dir they own)."""
    return [Path(arg) for child in children for name, arg in
            zip(child.cmdline(), child.cmdline()[1:], strict=False) if name == flag]


def _nothing_left(children: list[psutil.Process], dirs: list[Path], what: str) -> None:
    """Every process payrace started ends on its own (the pipes to them closed with it), and
    the temp dirs it made are removed by their watchdog."""
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [" ".join(p.cmdline()[:4]) for p in alive if p.is_running()]
    _wait_for(lambda: not any(d.exists() for d in dirs), 20, what)


def test_payrace_run_killed_mid_load_leaves_evidence_and_nothing_running(
        postgres_server: Provisioned, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    command = [sys.executable, "-c", "import sys; from harness.cli import main; "
               "sys.argv[0] = 'payrace'; main()", "run", "steady", "--target", "reference:safe",
               "--users", "4", "--duration", "60s", "--database-url", postgres_server.url,
               "--out", str(out), "--no-progress"]
    runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def loading() -> bool:
            runs = list(out.glob("*/history.jsonl"))
            return bool(runs) and _lines(runs[0]) >= 200
        _wait_for(loading, 90, "the load to record 200 history lines")
        children = psutil.Process(runner.pid).children(recursive=True)
        state_dirs = _flag_values(children, "--state-dir")
        assert any("locust_child" in " ".join(c.cmdline()) for c in children), children
        assert state_dirs, "the reference service was started with a state dir"
    finally:
        runner.kill()  # SIGKILL: no cleanup, no atexit, nothing
        runner.wait()
    _nothing_left(children, state_dirs, "the service's temp dir")

    [run_dir] = [p.parent for p in out.glob("*/history.jsonl")]
    assert _lines(run_dir / "history.jsonl") >= 200
    assert _lines(run_dir / "ledger.jsonl") > 0, "the stand-in's ledger was journalled"
    assert not (run_dir / "summary.json").exists()

    checked = payrace("check", str(run_dir), "--unsettled", "--min-charges", "1")
    assert "Traceback" not in checked.stderr, checked.stderr
    # safe never double charges; without db.json db-consistency cannot be judged.
    assert checked.returncode in (0, 4), checked.stdout + checked.stderr
    assert "no-duplicate-charge    valid" in checked.stdout, checked.stdout
    assert (run_dir / "summary.json").is_file() and (run_dir / "index.html").is_file()


def test_a_standin_killed_mid_run_makes_the_run_inconclusive_with_its_journalled_ledger(
        postgres_server: Provisioned, tmp_path: Path) -> None:
    """The provider's ledger is the ground truth: a run that lost its provider says so, judges
    the ledger the stand-in journalled up to its death, and is never verified."""
    out = tmp_path / "reports"
    command = [sys.executable, "-c", "import sys; from harness.cli import main; "
               "sys.argv[0] = 'payrace'; main()", "run", "steady", "--target", "reference:safe",
               "--users", "4", "--duration", "12s", "--database-url", postgres_server.url,
               "--out", str(out), "--no-progress"]
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        def loading() -> bool:
            runs = list(out.glob("*/history.jsonl"))
            return bool(runs) and _lines(runs[0]) >= 100
        _wait_for(loading, 90, "the load to record 100 history lines")
        [standin] = [c for c in psutil.Process(runner.pid).children(recursive=True)
                     if "harness.stripe_standin" in " ".join(c.cmdline())]
        standin.kill()
        stdout, stderr = runner.communicate(timeout=120)
    finally:
        runner.kill()
    assert runner.returncode == 4, stdout + stderr
    assert "Traceback" not in stderr, stderr
    [run_dir] = [p.parent for p in out.glob("*/summary.json")]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "inconclusive"
    alive = next(c for c in summary["checks"] if c["checker"] == "standin-alive")
    assert alive["validity"] == "unknown" and "stopped answering" in alive["summary"]
    ledger = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    assert any(entry["kind"] == "charge" for entry in ledger), "the journal's charges were judged"


@pytest.mark.parametrize("provider", ["own", "stripe-url"])
def test_payrace_explore_killed_mid_example_leaves_that_example_and_nothing_running(
        provider: str, postgres_server: Provisioned, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """The example in progress keeps its history and ledger in the run directory as it goes:
    its own stand-in journals the ledger there; a `--stripe-url` one's is copied after each
    step, with ledger.behind saying which ops the copy covers. After a SIGKILL they are there,
    and `payrace check` judges them."""
    out = tmp_path / "reports"
    stripe = (["--stripe-url", request.getfixturevalue("standin")] if provider == "stripe-url"
              else [])
    command = [sys.executable, "-c", "import sys; from harness.cli import main; "
               "sys.argv[0] = 'payrace'; main()", "explore", "--target", "reference:safe",
               "--max-examples", "500", "--seed", "3", "--database-url", postgres_server.url,
               "--reports-dir", str(out), *stripe]
    explorer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def exploring() -> bool:
            runs = list(out.glob("*/history.jsonl"))
            return bool(runs) and _lines(runs[0]) >= 20 and b'"kind":"charge"' in _bytes(
                runs[0].with_name("ledger.jsonl"))
        _wait_for(exploring, 120, "an example to record 20 history lines and a charge")
        children = psutil.Process(explorer.pid).children(recursive=True)
        scratch = _flag_values(children, "--root")
        started_standin = any("harness.stripe_standin" in " ".join(c.cmdline())
                              for c in children)
        assert started_standin == (provider == "own")
        assert scratch and all(d.name.startswith("payrace-explore-") for d in scratch), scratch
    finally:
        explorer.kill()  # SIGKILL: no cleanup, no atexit, nothing
        explorer.wait()
    _nothing_left(children, scratch, "the explore scratch dir")

    # The example in progress at the kill: a new one may have begun since the wait saw a
    # charge (each example starts its history and ledger afresh), so only their agreement is
    # asserted: every `ok` charge in the history has its charge in the journalled ledger,
    # which charge-bounds checks (a ledger that lagged the history would fail it).
    [run_dir] = [p.parent for p in out.glob("*/history.jsonl")]
    assert (run_dir / "ledger.jsonl").is_file()
    assert not (run_dir / "summary.json").exists()
    # Its own stand-in journalled the ledger: it never lags, so no mark says it may. A copy
    # does lag, and the mark says how far it covers the history.
    assert (run_dir / "ledger.behind").exists() == (provider == "stripe-url")

    checked = payrace("check", str(run_dir), "--unsettled", "--min-charges", "1")
    assert "Traceback" not in checked.stderr, checked.stderr
    # safe never double charges: verified, or inconclusive when the example did too little.
    assert checked.returncode in (0, 4), checked.stdout + checked.stderr
    assert "no-duplicate-charge    valid" in checked.stdout, checked.stdout
    assert "charge-bounds          valid" in checked.stdout, checked.stdout
