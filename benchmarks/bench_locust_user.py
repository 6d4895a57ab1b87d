"""Locust CPU per request: a bare FastHttpUser beside payrace's user (steady), recording off and on.

    .venv/bin/python benchmarks/bench_locust_user.py              # --rounds 3 --seconds 10

What payrace adds to each request Locust makes (the adapter, classifying the answer, the
history), measured where it is paid: in the one Locust process. Each variant runs plain
`locust -f` headless (32 users, no think time) against benchmarks/ceiling_target.py and the
stand-in; the Locust process's CPU time and the target's count of requests answered are read
at the same instants, `--warmup` s after the start and again `--seconds` later. Rounds
alternate the variants, so a shared machine's other jobs fall on each alike; CPU per request
is the figure to compare (the rate moves with the neighbours).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ceiling_target import running_target  # noqa: E402
from harness.stripe_standin import running_standin  # noqa: E402

VARIANTS = ("bare FastHttpUser", "steady, recording off", "steady, recording on")


def served(target: str) -> int:
    with urllib.request.urlopen(f"{target}/_admin/served", timeout=10) as answer:
        return int(json.load(answer)["requests"])


def cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def measure(variant: str, target: str, standin: str, users: int, warmup: float,
            seconds: float, tmp: Path) -> dict[str, Any]:
    """One headless Locust of `variant`: its CPU per request over the measured seconds."""
    locustfile = ROOT / ("benchmarks/bare_locustfile.py" if variant.startswith("bare")
                         else "scenarios/steady.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYRACE_")}
    env.update(PAYRACE_THINK_MS="0", PAYRACE_PROVIDER_LATENCY_MS="0",
               PAYRACE_STANDIN_URL=standin, PYTHONPATH=str(ROOT))
    if variant.endswith("recording on"):
        env["PAYRACE_HISTORY"] = str(tmp / f"history-{time.monotonic_ns()}.jsonl")
    total = warmup + seconds + 2
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
         "-r", str(users), "-t", f"{total:.0f}s", "--host", target, "--only-summary",
         "--loglevel", "WARNING"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    locust = psutil.Process(proc.pid)
    time.sleep(warmup)
    c0, n0, t0 = cpu(locust), served(target), time.monotonic()
    time.sleep(seconds)
    c1, n1, t1 = cpu(locust), served(target), time.monotonic()
    load = os.getloadavg()[0]
    proc.wait(timeout=total + 30)
    requests = n1 - n0
    return {"variant": variant, "requests_per_s": round(requests / (t1 - t0), 1),
            "locust_cores": round((c1 - c0) / (t1 - t0), 3),
            "cpu_us_per_request": round(1e6 * (c1 - c0) / max(requests, 1), 1),
            "load_average": round(load, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="payrace-bench-locust-") as tmp, \
            running_standin() as standin, running_target(standin) as (target, _pid):
        for _ in range(args.rounds):
            for variant in VARIANTS:
                r = measure(variant, target, standin, args.users, args.warmup, args.seconds,
                            Path(tmp))
                runs.append(r)
                if not args.json:
                    print(f"{r['variant']:<24} {r['requests_per_s']:7.0f} req/s  Locust "
                          f"{r['locust_cores']:.2f} cores  {r['cpu_us_per_request']:6.1f} us "
                          f"CPU/request  (load average {r['load_average']})", flush=True)
    medians = {v: statistics.median(r["cpu_us_per_request"] for r in runs if r["variant"] == v)
               for v in VARIANTS}
    bare = medians[VARIANTS[0]]
    if args.json:
        print(json.dumps({"runs": runs, "median_cpu_us_per_request": medians}, indent=1))
    else:
        print("medians, CPU per request: " + "; ".join(
            f"{v} {us:.0f} us ({us / bare:.2f}x bare)" for v, us in medians.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
