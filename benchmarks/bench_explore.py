"""Benchmark: time to the first violation and shrunk length per flawed variant; safe's speed.

Run: .venv/bin/python benchmarks/bench_explore.py                  (10 seeds per variant)
     .venv/bin/python benchmarks/bench_explore.py --seeds 3 --json
Goal (issue 4): for naive, mutex and pr145 over 10 seeds, the first violation in a median
≤ 5 s and at worst ≤ 30 s, shrunk to ≤ 6 steps; for safe, examples per second. Each run is
`payrace explore`'s own search (two workers, every fault family, default settings) on one
embedded PostgreSQL and one stand-in; a measurement, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.model import PartsRequest, explore, open_environment
from harness.model.environment import FAULT_FAMILIES
from harness.model.program import steps_in
from harness.provision.postgres import provision_postgres
from harness.stripe_standin import running_standin

FLAWED = ("naive", "mutex", "pr145")


def one_run(
    variant: str, seed: int, server_url: str, standin_url: str, max_examples: int
) -> dict[str, Any]:
    request = PartsRequest(
        target=f"reference:{variant}",
        workers=2,
        faults=FAULT_FAMILIES,
        stripe_url=standin_url,
        database_url=server_url,
        seed=seed,
    )
    with open_environment(request) as (env, _parts):
        started = time.monotonic()
        result = explore(env, max_examples=max_examples, seed=seed)
        total = time.monotonic() - started
    row: dict[str, Any] = {
        "variant": variant,
        "seed": seed,
        "verdict": result.verdict,
        "first_violation_s": result.stats["first_violation_s"],
        "total_s": round(total, 2),
        "examples": result.stats["examples"],
    }
    if result.violation is not None:
        row["checker"] = result.violation.result.checker
        row["steps"] = steps_in(result.program)
        row["cause"] = result.cause.kind if result.cause is not None else None
    return row


def safe_speed(server_url: str, standin_url: str, max_examples: int, seed: int) -> dict[str, Any]:
    request = PartsRequest(
        target="reference:safe", workers=2, faults=FAULT_FAMILIES,
        stripe_url=standin_url, database_url=server_url, seed=seed,
    )
    with open_environment(request) as (env, _parts):
        started = time.monotonic()
        result = explore(env, max_examples=max_examples, seed=seed)
        total = time.monotonic() - started
    checked = next(c for c in result.checks if c.checker == "enough-work").stats["examples"]
    return {
        "verdict": result.verdict,
        "examples": checked,
        "steps": result.stats["steps"],
        "seconds": round(total, 2),
        "examples_per_s": round(checked / total, 2),
        "steps_per_s": round(result.stats["steps"] / total, 1),
    }


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for variant in FLAWED:
        mine = [r for r in rows if r["variant"] == variant]
        found = [r for r in mine if r["first_violation_s"] is not None]
        firsts = [r["first_violation_s"] for r in found]
        steps = [r["steps"] for r in found if "steps" in r]
        out.append({
            "variant": variant,
            "caught": f"{len(found)}/{len(mine)}",
            "median_first_s": round(statistics.median(firsts), 2) if firsts else None,
            "worst_first_s": round(max(firsts), 2) if firsts else None,
            "median_total_s": round(statistics.median(r["total_s"] for r in mine), 2),
            "max_steps": max(steps) if steps else None,
            "median_steps": statistics.median(steps) if steps else None,
            "causes": sorted({str(r.get("cause")) for r in found}),
        })
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--safe-examples", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("reference_impl").setLevel(logging.ERROR)
    rows: list[dict[str, Any]] = []
    with provision_postgres(mode="embedded") as server, running_standin(seed=0) as standin:
        for variant in FLAWED:
            for seed in range(args.seeds):
                row = one_run(variant, seed, server.url, standin, args.max_examples)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        safe = safe_speed(server.url, standin, args.safe_examples, seed=0)
    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "summary": summarise(rows),
        "safe": safe,
        "runs": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("| variant | caught | first violation, median | worst | explore total, median "
          "| shrunk steps, median / max | causes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for s in report["summary"]:
        print(f"| {s['variant']} | {s['caught']} | {s['median_first_s']} s | {s['worst_first_s']} s"
              f" | {s['median_total_s']} s | {s['median_steps']} / {s['max_steps']} "
              f"| {', '.join(s['causes'])} |")
    print(f"\nsafe: {safe['examples']} examples in {safe['seconds']} s = "
          f"{safe['examples_per_s']} examples/s ({safe['steps_per_s']} steps/s), "
          f"verdict {safe['verdict']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
