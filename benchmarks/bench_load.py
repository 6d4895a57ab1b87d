"""Load benchmark: payments/s against safe with and without recording, who uses the CPU, and what
holding a lock across the provider call costs (pr145 and mutex beside safe, 50 ms provider latency).

    .venv/bin/python benchmarks/bench_load.py                  # about 3 minutes on 2 cores
    .venv/bin/python benchmarks/bench_load.py --duration 20 --users 48 --json

Each measurement is one `steady` run through the runner's own parts (PostgreSQL shared, a
fresh database, stand-in and reference service with 2 workers per run, Locust headless).
"Payments per second" is the provider's rate of successful charges in the sustained part of
the run: charges in the ledger between 2 s after the first one and 1 s before the last,
divided by that span. CPU time is sampled per process (psutil) while the load runs and
grouped: stand-in, service, PostgreSQL, Locust.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.ledger import is_money_charge  # noqa: E402
from harness.provision.postgres import Provisioned, provision_postgres  # noqa: E402
from harness.runner.drive import drive  # noqa: E402
from harness.runner.evidence import ledger_since  # noqa: E402
from harness.runner.progress import ProgressView  # noqa: E402
from harness.runner.spec import RunSpec, parse_target, resolve_scenario  # noqa: E402
from harness.runner.stack import listening_pid, provisioned  # noqa: E402

GROUPS = ("stand-in", "service", "postgres", "locust")


class CpuSampler(threading.Thread):
    """CPU seconds (user + system) per group of processes while the load runs."""

    def __init__(self, classify: Callable[[psutil.Process], str | None], interval: float = 0.2):
        super().__init__(daemon=True)
        self.classify, self.interval = classify, interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.group: dict[int, str] = {}
        self.started = time.time()
        self._stop_event = threading.Event()
        self._busy0 = _busy()
        self.busy = 0.0
        self.seconds = 0.0

    def sample(self) -> None:
        for proc in psutil.process_iter():
            try:
                group = self.classify(proc)
                if group is None:
                    continue
                times = proc.cpu_times()
                cpu = times.user + times.system
                # A process born during the load counts from zero; one already running from now.
                self.first.setdefault(proc.pid, cpu if proc.create_time() < self.started else 0.0)
                self.last[proc.pid] = cpu
                self.group[proc.pid] = group
            except psutil.Error:
                continue

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> dict[str, float]:
        self.sample()
        self._stop_event.set()
        self.join()
        self.busy = _busy() - self._busy0
        self.seconds = time.time() - self.started
        totals = dict.fromkeys(GROUPS, 0.0)
        for pid, group in self.group.items():
            totals[group] += max(0.0, self.last[pid] - self.first[pid])
        return totals


def _busy() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.system) + getattr(t, "nice", 0.0) + getattr(t, "irq", 0.0) + getattr(
        t, "softirq", 0.0)


def postmaster_pid(server_url: str) -> int | None:
    """The PostgreSQL server's main process: the one started with the URL's socket directory.

    Other jobs on a shared machine may run PostgreSQL too; only this server's processes count.
    """
    from sqlalchemy.engine import make_url

    host = make_url(server_url).query.get("host")
    socket_dir = host if isinstance(host, str) else None
    for proc in psutil.process_iter():
        try:
            if proc.name().startswith("postgres") and socket_dir and (
                    socket_dir in " ".join(proc.cmdline())):
                parent = proc.parent()
                if parent is None or not parent.name().startswith("postgres"):
                    return int(proc.pid)
        except psutil.Error:
            continue
    return None


def classifier(standin_pid: int | None, service_pid: int | None,
               postgres_pid: int | None) -> Callable[[psutil.Process], str | None]:
    me = os.getpid()

    def classify(proc: psutil.Process) -> str | None:
        if proc.pid == standin_pid:
            return "stand-in"
        parent = proc.ppid()
        if service_pid is not None and service_pid in (proc.pid, parent):
            return "service"
        if postgres_pid is not None and postgres_pid in (proc.pid, parent):
            return "postgres"
        # Locust is this benchmark's child; with --processes, also its grandchildren.
        if parent == me or (parent > 1 and psutil.Process(parent).ppid() == me):
            return "locust" if "locust" in " ".join(proc.cmdline()[:4]) else None
        return None

    return classify


def transactions(database_url: str | None) -> int | None:
    """Committed plus rolled-back transactions of the run's database so far (pg_stat_database)."""
    if database_url is None:
        return None
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else None


def sustained_rate(times: list[float], warmup: float = 2.0, tail: float = 1.0) -> tuple[float, int]:
    """Charges per second between `warmup` s after the first charge and `tail` s before the last."""
    if len(times) < 10:
        return 0.0, len(times)
    times = sorted(times)
    lo, hi = times[0] + warmup, times[-1] - tail
    inside = [t for t in times if lo <= t <= hi]
    return (len(inside) / (hi - lo) if hi > lo else 0.0), len(times)


def measure(server: Provisioned, out: Path, label: str, variant: str, *, record: bool,
            users: int, duration: float, latency_ms: int, seed: int) -> dict[str, Any]:
    spec = RunSpec(scenario="steady", scenario_path=resolve_scenario("steady"),
                   target=parse_target(f"reference:{variant}"), users=users,
                   spawn_rate=float(users), duration_s=duration, seed=seed, out_dir=out,
                   record=record, progress=False, write_report=False,
                   scenario_env={"PAYRACE_THINK_MS": "0",
                                 "PAYRACE_PROVIDER_LATENCY_MS": str(latency_ms)})
    run_dir = out / label
    run_dir.mkdir(parents=True)
    with provisioned(spec, server) as stack:
        sampler = CpuSampler(classifier(listening_pid(stack.stripe_url), stack.service_pid,
                                        postmaster_pid(server.url)))
        sampler.start()
        tx0 = transactions(stack.database_url)
        history = run_dir / "history.jsonl" if record else None
        load = drive(spec, stack, run_dir, history, run_dir / "faults.jsonl", time.monotonic(),
                     ProgressView(label, duration, enabled=False))
        cpu = sampler.stop()
        tx1 = transactions(stack.database_url)
        ledger = ledger_since(stack)
    charge_times = [float(e["time"]) for e in ledger if is_money_charge(e)]
    rate, charges = sustained_rate(charge_times)
    ops = sum(1 for _ in history.open()) // 2 if history is not None and history.exists() else 0
    total_cpu = sum(cpu.values())
    return {
        "label": label, "variant": variant, "record": record, "latency_ms": latency_ms,
        "users": users, "duration_s": duration, "payments_per_s": round(rate, 1),
        "charges": charges, "operations": ops, "load_s": load.elapsed_s,
        # Per second of the whole load phase (Locust's start and stop included): a lower bound.
        "db_tx_per_s": round((tx1 - tx0) / load.elapsed_s, 1)
        if tx0 is not None and tx1 is not None else None,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        # Recording runs inside Locust: its CPU per payment is the steadiest measure of its cost.
        "locust_cpu_ms_per_payment": round(1000 * cpu["locust"] / charges, 3) if charges else None,
        "cpu_share": {k: round(v / total_cpu, 3) if total_cpu else 0.0 for k, v in cpu.items()},
        "machine_busy": round(sampler.busy / (sampler.seconds * (os.cpu_count() or 1)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per run")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="recording on/off pairs")
    parser.add_argument("--latency-ms", type=int, default=50, help="for the lock comparison")
    parser.add_argument("--slow-latency-ms", type=int, default=500)
    parser.add_argument("--slow-users", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []

    def say(r: dict[str, Any]) -> None:
        results.append(r)
        if not args.json:
            share = ", ".join(f"{k} {v:.0%}" for k, v in r["cpu_share"].items())
            print(f"{r['label']:<30} {r['payments_per_s']:>7.1f} payments/s  "
                  f"({r['charges']} charges, {r['operations']} ops recorded, "
                  f"{r['db_tx_per_s']} DB tx/s; Locust {r['locust_cpu_ms_per_payment']} ms CPU "
                  f"per payment; CPU: {share}; "
                  f"machine busy {r['machine_busy']:.0%})", flush=True)

    with tempfile.TemporaryDirectory(prefix="payrace-bench-load-") as tmp, \
            provision_postgres() as server:
        out = Path(tmp)
        common = {"users": args.users, "duration": args.duration, "seed": args.seed}
        # Alternate on and off, so drift of a shared machine hits both alike.
        for n in range(args.rounds):
            for record in (True, False):
                label = f"safe, recording {'on' if record else 'off'} #{n + 1}"
                say(measure(server, out, label, "safe", record=record, latency_ms=0, **common))
        for variant in ("safe", "pr145", "mutex"):
            say(measure(server, out, f"{variant}, {args.latency_ms} ms provider", variant,
                        record=True, latency_ms=args.latency_ms, **common))
        # A slow provider and more users than pr145's connection pool (2 workers x 15): the row
        # lock holds a pooled connection for the whole provider call, so the pool runs dry.
        slow = {**common, "users": args.slow_users}
        for variant in ("safe", "pr145"):
            label = f"{variant}, {args.slow_latency_ms} ms, {args.slow_users} users"
            say(measure(server, out, label, variant, record=True,
                        latency_ms=args.slow_latency_ms, **slow))

    pairs = [r for r in results if r["latency_ms"] == 0]
    on = [r["payments_per_s"] for r in pairs if r["record"]]
    off = [r["payments_per_s"] for r in pairs if not r["record"]]
    cpu_on = [r["locust_cpu_ms_per_payment"] or 0.0 for r in pairs if r["record"]]
    cpu_off = [r["locust_cpu_ms_per_payment"] or 0.0 for r in pairs if not r["record"]]
    summary = {
        "locust_cpu_ms_per_payment_on": statistics.median(cpu_on),
        "locust_cpu_ms_per_payment_off": statistics.median(cpu_off),
        "recording_on_median": statistics.median(on),
        "recording_off_median": statistics.median(off),
        "recording_cost": round(1 - statistics.median(on) / statistics.median(off), 3)
        if statistics.median(off) else None,
    }
    if args.json:
        print(json.dumps({"runs": results, "summary": summary}, indent=1))
    else:
        print(f"recording on (median) {summary['recording_on_median']:.1f}/s, off "
              f"{summary['recording_off_median']:.1f}/s: recording costs "
              f"{summary['recording_cost']:.1%} of throughput; Locust CPU per payment "
              f"{summary['locust_cpu_ms_per_payment_on']:.2f} ms on, "
              f"{summary['locust_cpu_ms_per_payment_off']:.2f} ms off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
