"""Soak: `payrace run chaos` until 100,000 payments are charged, PostgreSQL restarts included.

    .venv/bin/python benchmarks/bench_soak.py                       # safe 100,000 + pr145 10,000
    .venv/bin/python benchmarks/bench_soak.py --safe 20000 --pr145 2000 --json

Each soak is one real `payrace run chaos --until-charges N` against a reference variant, as a
user types it, on a PostgreSQL server payrace starts itself, so chaos's nemesis reaches every
family: provider 5xx and lost responses with a day passing, `before_commit` / `after_charge`
failpoints, SIGKILLed service workers, every database connection terminated, and the server
itself stopped and started (at most every 30 s). `safe` must come out verified: no payment
charged twice, none lost (db-consistency), every checker valid. `pr145` must be caught.
Peak memory (RSS) is sampled every second for each process of the run, grouped by role.
This is a measurement for docs/PERFORMANCE.md, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
# A role per process of the run, by what its command line runs (first match wins).
ROLES = (
    ("harness.runner.locust_child", "locust"),
    ("locust", "locust"),
    ("harness.stripe_standin", "stand-in"),
    ("reference_impl", "service"),
    ("pg_watchdog", "watchdog"),
    ("harness.cli", "payrace"),
)


def role(proc: psutil.Process) -> str | None:
    try:
        if proc.name().startswith("postgres"):
            return "postgres"  # only this run's postmasters and their children are sampled
        line = " ".join(proc.cmdline()[:6])
    except psutil.Error:
        return None
    return next((name for needle, name in ROLES if needle in line), None)


def _postmaster_of_ours(proc: psutil.Process) -> bool:
    try:
        return "payrace-pg-" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


class MemorySampler(threading.Thread):
    """Peak RSS per role: of any one process, and of all the role's processes together."""

    def __init__(self, root_pid: int, since: float, interval_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.since, self.interval_s = root_pid, since, interval_s
        self.one: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self._done = threading.Event()

    def _processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.root_pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        # PostgreSQL's postmaster leaves pg_ctl's tree: found by its data directory's name
        # (a restart makes a new one); its backends are its children.
        for proc in psutil.process_iter(["name", "create_time"]):
            if (proc.info["name"].startswith("postgres") and _postmaster_of_ours(proc)
                    and proc.info["create_time"] >= self.since):
                with contextlib.suppress(psutil.Error):
                    tree += [proc, *proc.children()]
        return tree

    def sample(self) -> None:
        totals: Counter[str] = Counter()
        for proc in self._processes():
            name = role(proc)
            if name is None:  # a worker a supervisor spawned (multiprocessing) is its role's
                with contextlib.suppress(psutil.Error):
                    parent = proc.parent()
                    name = role(parent) if parent is not None else None
            if name is None:
                continue
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            totals[name] += rss
            self.one[name] = max(self.one.get(name, 0), rss)
        for name, rss in totals.items():
            self.total[name] = max(self.total.get(name, 0), rss)

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval_s)

    def stop(self) -> None:
        self._done.set()
        self.join()


def soak(variant: str, charges: int, users: int, seed: int, out: Path) -> dict[str, Any]:
    """One `payrace run chaos --until-charges` and what it proved, with its peak memory."""
    # No --database-url, and none inherited: the server must be payrace's own to restart it.
    env = {k: v for k, v in os.environ.items() if k != "PAYRACE_DATABASE_URL"}
    command = [sys.executable, "-m", "harness.cli", "run", "chaos", "--target",
               f"reference:{variant}", "--users", str(users), "--duration", "3h",
               "--until-charges", str(charges), "--min-charges", str(charges // 2),
               "--seed", str(seed), "--out", str(out), "--no-progress"]
    started = time.time()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    sampler = MemorySampler(proc.pid, started)
    sampler.start()
    output, _ = proc.communicate()
    sampler.stop()
    wall = time.time() - started
    runs = sorted(out.glob("*/summary.json"))
    if not runs:
        raise SystemExit(f"bench_soak: {variant} left no summary (exit {proc.returncode}):\n"
                         f"{output[-2000:]}")
    summary = json.loads(runs[-1].read_text())
    faults = Counter(
        json.loads(line)["action"] for line in
        (runs[-1].parent / "faults.jsonl").read_text().splitlines()
        if line.strip() and "skipped" not in json.loads(line))
    checks = {c["checker"]: c for c in summary["checks"]}
    # Lost: money taken, yet the order is not completed after settling (db-consistency's kind).
    db_check = checks.get("db-consistency", {})
    lost = (sum(1 for v in db_check.get("violations", []) if v["kind"] == "money-taken-order-lost")
            if db_check.get("validity") in ("valid", "invalid") else None)
    return {
        "variant": variant,
        "until_charges": charges,
        "exit_code": proc.returncode,
        "verdict": summary["verdict"],
        "load_s": summary["load"]["elapsed_s"],
        "wall_s": round(wall, 1),
        "charged_enough_at_s": summary["load"].get("charged_enough_at_s"),
        "history_ops": summary["stats"].get("operations"),
        "checks": {name: c["validity"] for name, c in checks.items()},
        "check_summaries": {name: c["summary"] for name, c in checks.items()},
        "payments": summary["stats"].get("payments"),
        "duplicated_payments": summary["stats"].get("duplicated_payments"),
        "lost_payments": lost,  # charged, yet not completed after settling
        "faults": dict(faults),
        "peak_rss_mib": {name: round(rss / 2**20) for name, rss in sorted(sampler.one.items())},
        "peak_rss_total_mib": {name: round(rss / 2**20)
                               for name, rss in sorted(sampler.total.items())},
        "run_dir": str(runs[-1].parent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--safe", type=int, default=100_000, help="payments to charge (safe)")
    parser.add_argument("--pr145", type=int, default=10_000, help="payments to charge (pr145)")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep the run directories here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="payrace-soak-"))
    load = os.getloadavg()
    results = [soak(variant, n, args.users, args.seed, out / variant)
               for variant, n in (("safe", args.safe), ("pr145", args.pr145)) if n > 0]
    report = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
              "load_before": [round(x, 2) for x in load],
              "load_after": [round(x, 2) for x in os.getloadavg()], "soaks": results}
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for r in results:
        rate = r["until_charges"] / r["charged_enough_at_s"] if r["charged_enough_at_s"] else 0
        print(f"{r['variant']}: {r['verdict']} (exit {r['exit_code']}), {r['until_charges']:,} "
              f"payments charged in {r['charged_enough_at_s']} s ({rate:.0f}/s), load "
              f"{r['load_s']} s, wall {r['wall_s']} s, {r['history_ops']} history ops; "
              f"{r['duplicated_payments']} payments charged twice, {r['lost_payments']} lost")
        for name, summary in r["check_summaries"].items():
            print(f"  {name:<22} {r['checks'][name]:<8} {summary}")
        print(f"  faults: {r['faults']}")
        print(f"  peak RSS MiB (one process): {r['peak_rss_mib']}")
        print(f"  peak RSS MiB (role total):  {r['peak_rss_total_mib']}")
        print(f"  run directory: {r['run_dir']}")
    print(f"load average before {report['load_before']}, after {report['load_after']}")


if __name__ == "__main__":
    main()
