"""Ceiling benchmark: the most payments/s payrace itself can drive, record and judge here.

    .venv/bin/python benchmarks/bench_ceiling.py                     # --processes 1,2 --users 32,64
    .venv/bin/python benchmarks/bench_ceiling.py --processes 2 --users 96 --duration 30 --json

The target does nothing but one stand-in call per charge (benchmarks/ceiling_target.py: one
aiohttp process, rows in a dict), so what limits the rate is payrace's own parts. The stand-in
and the target start as real processes, then `payrace run steady --target … --stripe-url …`
runs as a user runs it: real Locust (with `--processes`), recording on, every checker on, no
think time and no provider latency. A run counts only when its verdict is verified (exit 0).

Payments/s is the provider's rate of money charges in the sustained part of the load (from the
run's ledger: between `--warmup` s after the first charge and 1 s before the last, as
benchmarks/bench_load.py counts); requests/s is the history's completed operations (one HTTP
request each) in that window. CPU is sampled per process (psutil) through the run and read at
the window's edges: Locust (each process), the stand-in, the target, payrace's parent, and the
rest of the machine (other jobs). The part that limits is the one process at about a full
core; if none is, the machine's two cores are full, or the users are too few.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ceiling_target import running_target  # noqa: E402
from harness.ledger import is_money_charge  # noqa: E402
from harness.stripe_standin import StandinAdmin, running_standin  # noqa: E402

# A single Python process cannot use more than one core: at this share of one it is the limit.
SATURATED = 0.85
PAYRACE = str(Path(sys.executable).with_name("payrace"))


@dataclass
class Sample:
    """Cumulative CPU seconds per process, and the machine's busy CPU seconds, at one instant."""

    wall: float
    cpu: dict[int, float]
    busy: float
    load1: float


class Sampler(threading.Thread):
    """Samples the CPU of the run's processes every `interval` s until stopped."""

    def __init__(self, roots: dict[str, int], payrace_pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.roots = roots  # group -> pid, for the processes known up front
        self.payrace_pid = payrace_pid
        self.interval = interval
        self.samples: list[Sample] = []
        self.groups: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self._stop_event = threading.Event()
        self._procs: dict[int, psutil.Process] = {}

    def _processes(self) -> Iterator[tuple[int, psutil.Process]]:
        for group, pid in {**self.roots, "payrace": self.payrace_pid}.items():
            self._track(pid, group)
        try:
            # Locust (harness.runner.locust_child) and its forked --processes workers.
            for child in psutil.Process(self.payrace_pid).children(recursive=True):
                self._track(child.pid, "locust", child)
        except psutil.Error:
            pass
        yield from self._procs.items()

    def _track(self, pid: int, group: str, proc: psutil.Process | None = None) -> None:
        if pid in self._procs:
            return
        try:
            self._procs[pid] = proc or psutil.Process(pid)
            self.groups[pid] = group
            self.names[pid] = f"{group} {pid}"
        except psutil.Error:
            pass

    def sample(self) -> None:
        cpu: dict[int, float] = {}
        for pid, proc in list(self._processes()):
            try:
                times = proc.cpu_times()
                cpu[pid] = times.user + times.system
            except psutil.Error:
                continue
        self.samples.append(Sample(time.time(), cpu, _busy(), os.getloadavg()[0]))

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()

    def between(self, lo: float, hi: float) -> tuple[dict[int, float], float, list[float]]:
        """CPU seconds per process and of the whole machine between two wall instants
        (linear between samples), and the 1-minute load averages seen in between."""
        walls = [s.wall for s in self.samples]

        def at(t: float) -> tuple[dict[int, float], float]:
            i = min(max(bisect.bisect_left(walls, t), 1), len(walls) - 1)
            a, b = self.samples[i - 1], self.samples[i]
            w = min(max((t - a.wall) / (b.wall - a.wall), 0.0), 1.0) if b.wall > a.wall else 1.0
            pids = set(a.cpu) | set(b.cpu)
            # A process not yet born (or already gone) at a sample counts as 0 (or its last).
            cpu = {p: a.cpu.get(p, 0.0) + w * (b.cpu.get(p, a.cpu.get(p, 0.0))
                                                 - a.cpu.get(p, 0.0)) for p in pids}
            return cpu, a.busy + w * (b.busy - a.busy)

        (c0, b0), (c1, b1) = at(lo), at(hi)
        loads = [s.load1 for s in self.samples if lo <= s.wall <= hi]
        return {p: max(0.0, c1.get(p, 0.0) - c0.get(p, 0.0)) for p in c1}, b1 - b0, loads


def _busy() -> float:
    t = psutil.cpu_times()
    return float(sum(getattr(t, name, 0.0) for name in
                     ("user", "system", "nice", "irq", "softirq", "steal")))


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def window(times: list[float], warmup: float, tail: float = 1.0) -> tuple[float, float]:
    """The sustained part of the load: `warmup` s after the first charge, `tail` s before the
    last (Locust's ramp-up and stop are not the rate it sustains)."""
    return times[0] + warmup, times[-1] - tail


def limit(cores: dict[str, float], per_process: dict[str, float], machine_cores: float,
          ncpu: int) -> str:
    """Which part limits: a process at about a full core, else the machine, else the users."""
    name, top = max(per_process.items(), key=lambda kv: kv[1])
    if top >= SATURATED:
        return f"{name} (at {top:.2f} of one core)"
    if machine_cores >= SATURATED * ncpu:
        biggest = max(cores.items(), key=lambda kv: kv[1])
        return (f"the machine's {ncpu} cores ({machine_cores:.2f} busy; most used by "
                f"{biggest[0]}, {biggest[1]:.2f} cores)")
    return (f"no process and not the machine (busiest: {name} at {top:.2f} of a core; machine "
            f"{machine_cores:.2f} of {ncpu}): more users would go faster")


def measure(processes: int, users: int, duration: float, warmup: float, out: Path,
            seed: int, think_ms: int = 0, latency_ms: int = 0) -> dict[str, Any]:
    """One `payrace run steady` against a fresh stand-in and target; its figures."""
    load_before = os.getloadavg()
    with running_standin(seed=seed) as stripe_url, \
            running_target(stripe_url) as (target_url, target_pid):
        standin_pid = int(StandinAdmin(stripe_url).health()["pid"])
        reports = out / f"p{processes}-u{users}"
        command = [PAYRACE, "run", "steady", "--target", target_url, "--stripe-url", stripe_url,
                   "--users", str(users), "--duration", f"{duration:g}s",
                   "--processes", str(processes), "--seed", str(seed),
                   "--reports-dir", str(reports), "--no-progress"]
        env = dict(os.environ, PAYRACE_THINK_MS=str(think_ms),
                   PAYRACE_PROVIDER_LATENCY_MS=str(latency_ms))
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        sampler = Sampler({"stand-in": standin_pid, "target": target_pid}, proc.pid)
        sampler.start()
        output, _ = proc.communicate()
        wall_s = time.monotonic() - started
        sampler.stop()
    load_after = os.getloadavg()
    run_dir = next(p for p in reports.iterdir() if p.is_dir())
    summary = json.loads((run_dir / "summary.json").read_text())
    charges = sorted(float(e["time"]) for e in _read_jsonl(run_dir / "ledger.jsonl")
                     if is_money_charge(e))
    lo, hi = window(charges, warmup)
    span = hi - lo
    payments = sum(1 for t in charges if lo <= t <= hi)
    requests = sum(1 for op in _read_jsonl(run_dir / "history.jsonl")
                   if op["type"] != "invoke" and lo <= op["wall"] <= hi)
    cpu, busy, loads = sampler.between(lo, hi)
    cores: dict[str, float] = {}
    for pid, seconds in cpu.items():
        group = sampler.groups[pid]
        cores[group] = cores.get(group, 0.0) + seconds / span
    ours = sum(cores.values())
    machine = busy / span
    cores["other jobs"] = max(0.0, machine - ours)
    # One Locust process coordinates (the master) when there are several; the users run in
    # the workers, so each one is a candidate for the limit on its own.
    per_process = {sampler.names[p]: s / span for p, s in cpu.items()}
    ncpu = os.cpu_count() or 1
    stats = summary.get("stats", {})
    load = summary.get("load", {})
    return {
        "processes": processes, "users": users, "duration_s": duration,
        "think_ms": think_ms, "latency_ms": latency_ms,
        "exit_code": proc.returncode, "verdict": summary.get("verdict"),
        "verified": proc.returncode == 0 and summary.get("verdict") == "verified",
        "payments_per_s": round(payments / span, 1), "requests_per_s": round(requests / span, 1),
        "requests_per_payment": round(requests / payments, 2) if payments else None,
        "window_s": round(span, 2), "payments_total": len(charges),
        "operations_total": stats.get("operations"),
        "cores": {k: round(v, 3) for k, v in cores.items()},
        "machine_cores_busy": round(machine, 3),
        "per_process_cores": {k: round(v, 3) for k, v in sorted(per_process.items())},
        "cpu_ms_per_payment": {k: round(1000 * v / (payments / span), 3)
                               for k, v in cores.items() if k != "other jobs"} if payments
        else {},
        "limit": limit(cores, per_process, machine, ncpu),
        "load_s": load.get("elapsed_s"),
        # payrace's parent after Locust stopped: quiesce, settle, collect, check, report.
        "after_load_s": round(wall_s - float(load.get("elapsed_s") or 0.0), 2),
        "checked_s": summary.get("duration_s"),
        "wall_s": round(wall_s, 2),
        "load_average": {"before": round(load_before[0], 2), "after": round(load_after[0], 2),
                         "during_max": round(max(loads), 2) if loads else None},
        "tail": output.strip().splitlines()[:1],
    }


def describe(r: dict[str, Any]) -> str:
    cores = ", ".join(f"{k} {v:.2f}" for k, v in r["cores"].items())
    per = ", ".join(f"{k} {v:.2f}" for k, v in r["per_process_cores"].items())
    ms = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_payment"].items())
    la = r["load_average"]
    knobs = (f" (think {r['think_ms']} ms, provider latency {r['latency_ms']} ms)"
             if r["think_ms"] or r["latency_ms"] else "")
    return (f"--processes {r['processes']} --users {r['users']}{knobs}: {r['payments_per_s']:.0f} "
            f"payments/s, {r['requests_per_s']:.0f} requests/s over {r['window_s']:.0f} s; "
            f"{r['verdict']} (exit {r['exit_code']})\n"
            f"  cores: {cores} (machine {r['machine_cores_busy']:.2f})\n"
            f"  per process: {per}\n"
            f"  CPU ms per payment: {ms}\n"
            f"  limit: {r['limit']}\n"
            f"  after the load (quiesce, settle, check, report): {r['after_load_s']} s for "
            f"{r['operations_total']} operations; load average {la['before']} before, "
            f"{la['during_max']} max during, {la['after']} after")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--processes", default="1,2", help="Locust process counts, comma list")
    parser.add_argument("--users", default="32,64", help="Locust user counts, comma list")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per run")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds after the first charge left out of the rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--think-ms", type=int, default=0,
                        help="steady's think time (its own default is 100)")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="stand-in latency per charge (steady's own default is 20)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="payrace-bench-ceiling-") as tmp:
        for processes in (int(p) for p in args.processes.split(",")):
            for users in (int(u) for u in args.users.split(",")):
                r = measure(processes, users, args.duration, args.warmup, Path(tmp), args.seed,
                            args.think_ms, args.latency_ms)
                results.append(r)
                if not args.json:
                    print(describe(r), flush=True)
    counted = [r for r in results if r["verified"]]
    best = max(counted, key=lambda r: r["payments_per_s"], default=None)
    if args.json:
        print(json.dumps({"runs": results, "best": best}, indent=1))
    elif best is None:
        print("no run was verified: no ceiling figure (a run that is not verified is not one)")
    else:
        goal = "met" if best["payments_per_s"] >= 1000 else "not met"
        print(f"ceiling: {best['payments_per_s']:.0f} payments/s "
              f"({best['requests_per_s']:.0f} requests/s) with --processes "
              f"{best['processes']} --users {best['users']}, verified; limit: {best['limit']}; "
              f"goal >= 1,000 payments/s {goal}")
    return 0 if best is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
