"""The processes that judge a large run in parallel never outlive `payrace check`, and route
every payment id to the same partition."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.checkers import standard_checkers
from harness.checkers.pool import WATCH_SECONDS, importable
from harness.checkers.registry import BUILTIN, merges_of
from harness.checkers.routing import Partitions
from harness.checkers.scaled import judge_files, workers_for
from harness.checkers.split import spans
from harness.errors import UsageError
from harness.runner.run import evidence_tally
from tests.unit.test_checkers_scaled import _Run

ROOT = Path(__file__).resolve().parents[2]


def _gone(pids: list[int], timeout_s: float) -> list[int]:
    """The pids still running (zombies count as gone) after waiting up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    return alive


def test_a_parent_that_raises_leaves_no_process(tmp_path: Path, monkeypatch: Any) -> None:
    """A damaged history line stops the check while the side processes (the ledger's, the
    history's second half) and the workers run: every one of them is ended before the error
    reaches the caller."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    root = _Run(9, 2000).write(tmp_path / "run")
    lines = (root / "history.jsonl").read_text().splitlines(keepends=True)
    lines[-50] = "{not json\n"
    (root / "history.jsonl").write_text("".join(lines))
    # The check does start them (else no process left would prove nothing): three workers,
    # the ledger's side process, one for the history's second half.
    assert workers_for(8, standard_checkers(), evidence_tally, 3) == 3
    assert len(spans(root / "history.jsonl", 2)) == 2
    # Only what the check starts counts: in the whole suite this process already has children
    # of its own (the session's PostgreSQL watchdog, a module's stand-in).
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(UsageError):
        judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                    standard_checkers(), merges_of(BUILTIN), partitions=8, workers=3,
                    tally=evidence_tally)
    # multiprocessing's resource tracker serves this process until it exits, not the check.
    left = [p.pid for p in psutil.Process().children(recursive=True)
            if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())]
    assert _gone(left, 5) == []


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "Ctrl-C"])
def test_a_killed_parent_leaves_no_process(tmp_path: Path, how: str) -> None:
    """SIGKILL, which runs no cleanup: the workers and the side processes notice the
    orphaning and exit by themselves. Ctrl-C (SIGINT to the whole process group): the parent
    stops them, and only the parent says it was interrupted."""
    root = _Run(10, 40_000).write(tmp_path / "run")
    # Ctrl-C comes from a shell, which starts a command with the signal's default action.
    # The test process may not have it: in 3 of 4 whole-suite runs under pytest-xdist this
    # script inherited SIGINT (and SIGQUIT) ignored, so no Ctrl-C could reach it.
    script = textwrap.dedent(f"""
        import signal
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from pathlib import Path
        from harness.checkers import standard_checkers
        from harness.checkers.registry import BUILTIN, merges_of
        from harness.checkers.scaled import judge_files
        from harness.runner.run import evidence_tally
        import harness.checkers.split
        if __name__ == "__main__":
            harness.checkers.split.MIN_PART_BYTES = 1  # the history routed in two parts too
            root = Path({str(root)!r})
            while True:
                judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                            standard_checkers(), merges_of(BUILTIN), partitions=8, workers=3,
                            tally=evidence_tally)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, start_new_session=True,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        # Two routing side processes (the ledger, the history's second half), three workers.
        while len(children) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
            children = psutil.Process(parent.pid).children(recursive=True)
        assert len(children) >= 5, children
        time.sleep(1.0)  # mid-work
        if how == "SIGKILL":
            os.kill(parent.pid, signal.SIGKILL)
        else:
            os.killpg(parent.pid, signal.SIGINT)
        _, stderr = parent.communicate(timeout=30)
        assert _gone([c.pid for c in children], 10 * WATCH_SECONDS + 5) == []
        if how == "Ctrl-C":
            assert stderr.count("KeyboardInterrupt") == 1, stderr
    finally:
        if parent.poll() is None:
            parent.kill()


def test_ctrl_c_while_the_processes_start_ends_none_of_them(tmp_path: Path) -> None:
    """Ctrl-C, again and again from the moment they are spawned, while the workers and the
    ledger's side process still import what they run: they start with the signal blocked,
    then ignore it, so none dies of it (the parent alone is interrupted by a real Ctrl-C)."""
    (tmp_path / "ledger.jsonl").write_text('{"seq": 1, "kind": "request"}\n')
    script = textwrap.dedent(f"""
        import os, signal, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as a shell starts it
        from pathlib import Path
        import psutil
        from harness.checkers.pool import judging_pool
        from harness.checkers.routing import LEDGER, DB, Partitions
        from harness.checkers.side import side_pass
        from harness.checkers.spill import Spill
        if __name__ == "__main__":
            spill = Spill(2, (LEDGER, DB))
            with judging_pool(2, [spill.fileno()]) as pool, side_pass(
                    Path({str(tmp_path / "ledger.jsonl")!r}), None, Partitions(2), spill) as side:
                started = [p for p in psutil.Process().children()
                           if "resource_tracker" not in " ".join(p.cmdline())]
                for _ in range(30):  # 1.5 s: from their first instant through their imports
                    for process in started:
                        try:
                            os.kill(process.pid, signal.SIGINT)
                        except ProcessLookupError:
                            pass
                    time.sleep(0.05)
                side.result()  # raises had the side process died
                for _ in range(100):  # the side process ends once it has answered
                    workers = [p for p in started if p.is_running()
                               and p.status() != psutil.STATUS_ZOMBIE]
                    if len(workers) <= 2:
                        break
                    time.sleep(0.05)
                print(len(started), len(workers), sorted(pool.map(abs, [-1, -2])))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    # Three started: two workers and the side process, which ends once it has routed.
    assert done.returncode == 0 and done.stdout.split() == ["3", "2", "[1,", "2]"], (
        done.stdout + done.stderr)
    assert "KeyboardInterrupt" not in done.stderr, done.stderr


def test_a_payment_id_has_one_partition_in_every_process() -> None:
    """A string's hash() differs between interpreters; the partition must not: the ledger is
    routed in another process than the history."""
    ids = ["pay_1", "pay_2", "pay_é", "\ud800", 7, 7.5, True, None, ["list"]]
    here = [Partitions(13).of(key) for key in ids]
    code = ("from harness.checkers.routing import Partitions; "
            f"print([Partitions(13).of(k) for k in {ids!r}])")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, text=True,
                             capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.stdout.strip() == str(here)


def test_only_payraces_own_functions_go_to_workers() -> None:
    """A spawned worker imports a checker by name: a closure or a lambda stays here."""
    assert all(importable(fn) for fn, _ in standard_checkers().values())
    assert importable(evidence_tally) and importable(None)
    assert not importable(lambda evidence: None)
    assert not importable(print)


def _workers_in_a_daemon(root: Path, answer: multiprocessing.SimpleQueue[int]) -> None:
    judged = judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                         standard_checkers(), merges_of(BUILTIN), partitions=4, workers=2,
                         tally=evidence_tally)
    answer.put(judged.workers)


def test_a_daemonic_process_judges_in_itself(tmp_path: Path) -> None:
    """multiprocessing lets no daemonic process start others: a check inside one (a worker of
    the user's own pool) judges its partitions itself instead of failing."""
    root = _Run(11, 300).write(tmp_path / "run")
    context = multiprocessing.get_context("spawn")
    answer: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    process = context.Process(target=_workers_in_a_daemon, args=(root, answer), daemon=True)
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert answer.get() == 1

