"""Benchmark: time to the first violation and shrunk length per flawed target; correct ones' speed.

Run: .venv/bin/python benchmarks/bench_explore.py                  (10 seeds per variant)
     .venv/bin/python benchmarks/bench_explore.py --seeds 3 --json
     .venv/bin/python benchmarks/bench_explore.py --http --json out.json   (own HTTP services)
Goal (issue 4): for naive, mutex and pr145 over 10 seeds, the first violation in a median
≤ 5 s and at worst ≤ 30 s, shrunk to ≤ 6 steps; for safe, examples per second. Each run is
`payrace explore`'s own search (two workers, every fault family, default settings) on one
embedded PostgreSQL and one stand-in; a measurement, not a pass/fail test.

--http measures the same against the foreign services of tests/services (real processes with
their own database on one shared embedded PostgreSQL, each with its own stand-in): the three
flawed service modes over the seeds, the flawed services side by side (one process each: a
process binds one model environment at a time), then the two correct ones' examples/s.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.model import PartsRequest, explore, open_environment
from harness.model.environment import FAULT_FAMILIES
from harness.model.program import steps_in
from harness.provision.postgres import provision_postgres
from harness.stripe_standin import running_standin

FLAWED = ("naive", "mutex", "pr145", "dunning")
# The own HTTP services (tests/services): each flawed mode and the checker that should catch it.
HTTP_FLAWED: tuple[tuple[str, str, str], ...] = (
    ("orders_threads", "ambiguous_failed", "db-consistency"),
    ("charges_aiohttp", "fresh_key_redrive", "no-duplicate-charge"),
    ("charges_aiohttp", "stable_key_forever", "no-duplicate-charge"),
)
HTTP_CORRECT: tuple[str, ...] = ("orders_threads", "charges_aiohttp")
HTTP_MAX_EXAMPLES = 100  # `payrace explore`'s default budget


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


def summarise(rows: list[dict[str, Any]], variants: tuple[str, ...] = FLAWED
              ) -> list[dict[str, Any]]:
    out = []
    for variant in variants:
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


def _median(values: list[float] | list[int]) -> float | None:
    if not values:
        return None
    middle = round(statistics.median(values), 2)
    return int(middle) if middle == int(middle) else middle


def _worst(values: list[float]) -> float | None:
    return round(max(values), 2) if values else None


def http_run(
    service: str, mode: str, url: str, standin_url: str, seed: int, max_examples: int
) -> dict[str, Any]:
    """One `payrace explore` search, in this process, against a running own service."""
    request = PartsRequest(target=url, workers=2, stripe_url=standin_url, seed=seed)
    row: dict[str, Any] = {"service": service, "mode": mode, "seed": seed}
    started = time.monotonic()
    try:
        with open_environment(request) as (env, _parts):
            started = time.monotonic()
            result = explore(env, max_examples=max_examples, seed=seed)
            total = time.monotonic() - started
    except Exception as exc:  # a part that fails is a finding too: keep the other seeds
        row.update(verdict="error", caught=False, first_violation_s=None,
                   total_s=round(time.monotonic() - started, 2), examples=None,
                   error=f"{type(exc).__name__}: {exc}")
        return row
    row.update(
        verdict=result.verdict,
        caught=result.verdict == "violation",
        first_violation_s=result.stats["first_violation_s"],
        total_s=round(total, 2),
        examples=result.stats["examples"],
    )
    if result.violation is not None:
        row["checker"] = result.violation.result.checker
        row["steps"] = steps_in(result.program)
        row["cause"] = result.cause.kind if result.cause is not None else None
        row["flaky"] = result.flaky
    else:
        row["reason"] = result.reason
    return row


def wait_ready(url: str, timeout_s: float = 60.0) -> float:
    """Seconds until the service answers HTTP at all: `LISTENING` comes before its workers are
    up, and explore's own probe gives a service 3 s, which a loaded machine can exceed."""
    started = time.monotonic()
    while True:
        try:
            httpx.get(f"{url}/payments/pay_bench_ready", timeout=5.0)
            return round(time.monotonic() - started, 2)
        except httpx.HTTPError:
            if time.monotonic() - started > timeout_s:
                raise
            time.sleep(0.2)


def http_series(
    service: str, mode: str, seeds: int, server_url: str, max_examples: int
) -> list[dict[str, Any]]:
    """Seeds 0..seeds-1, one after another, against one service with its own stand-in.

    Runs in a worker process of its own: Hypothesis's shrink-time limit holds for a whole
    process, so the three flawed services run side by side as processes, not threads.
    """
    from tests.services.launch import running_own_service

    logging.getLogger("reference_impl").setLevel(logging.ERROR)
    rows: list[dict[str, Any]] = []
    with running_standin(seed=0) as standin, \
            running_own_service(service, server_url, standin, mode=mode) as own:
        ready_s = wait_ready(own.url)
        for seed in range(seeds):
            row = http_run(service, mode, own.url, standin, seed, max_examples)
            row["service_ready_s"] = ready_s if seed == 0 else None
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def http_speed(service: str, server_url: str, max_examples: int, seed: int) -> dict[str, Any]:
    """One default-budget explore against a correct own service: examples/s and the verdict."""
    from tests.services.launch import running_own_service

    with running_standin(seed=0) as standin, \
            running_own_service(service, server_url, standin, mode="correct") as own:
        wait_ready(own.url)
        request = PartsRequest(target=own.url, workers=2, stripe_url=standin, seed=seed)
        with open_environment(request) as (env, _parts):
            started = time.monotonic()
            result = explore(env, max_examples=max_examples, seed=seed)
            total = time.monotonic() - started
    work = next((c for c in result.checks if c.checker == "enough-work"), None)
    # Examples checked (enough-work's count), as for safe.
    examples = int(work.stats.get("examples", 0)) if work else result.stats["examples"]
    row: dict[str, Any] = {
        "service": service,
        "mode": "correct",
        "seed": seed,
        "verdict": result.verdict,
        "reason": result.reason,
        "examples": examples,
        "examples_run": result.stats["examples"],
        "steps": result.stats["steps"],
        "seconds": round(total, 2),
        "examples_per_s": round(examples / total, 2),
        "steps_per_s": round(result.stats["steps"] / total, 1),
    }
    if result.violation is not None:
        row["checker"] = result.violation.result.checker
        row["program"] = result.program
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def summarise_http(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for service, mode, expected in HTTP_FLAWED:
        mine = [r for r in rows if r["service"] == service and r["mode"] == mode]
        caught = [r for r in mine if r["caught"]]
        firsts = [r["first_violation_s"] for r in caught if r["first_violation_s"] is not None]
        totals = [r["total_s"] for r in mine]
        # A flaky catch (not reproduced on replay) is reported unshrunk: no program to count.
        steps = [r["steps"] for r in caught if "steps" in r and not r.get("flaky")]
        out.append({
            "service": service,
            "mode": mode,
            "expected_checker": expected,
            "caught": f"{len(caught)}/{len(mine)}",
            "headline_checkers": dict(Counter(str(r.get("checker")) for r in caught)),
            "missed_seeds": [r["seed"] for r in mine if not r["caught"]],
            "flaky_seeds": [r["seed"] for r in caught if r.get("flaky")],
            "median_first_s": _median(firsts),
            "worst_first_s": _worst(firsts),
            "median_total_s": _median(totals),
            "worst_total_s": _worst(totals),
            "median_steps": _median(steps),
            "max_steps": max(steps) if steps else None,
            "median_examples": _median([r["examples"] for r in mine if r["examples"] is not None]),
            "causes": dict(Counter(str(r.get("cause")) for r in caught)),
        })
    return out


def http_report(seeds: int, max_examples: int, speed_examples: int) -> dict[str, Any]:
    """The three flawed services' seed series side by side, then each correct service alone."""
    load_before = os.getloadavg()
    with provision_postgres(mode="embedded") as server:
        started = time.monotonic()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(HTTP_FLAWED), mp_context=context) as pool:
            futures = [
                pool.submit(http_series, service, mode, seeds, server.url, max_examples)
                for service, mode, _expected in HTTP_FLAWED
            ]
            rows = [row for future in futures for row in future.result()]
        flawed_wall = time.monotonic() - started
        load_flawed = os.getloadavg()
        correct = [
            http_speed(service, server.url, speed_examples, seed=0) for service in HTTP_CORRECT
        ]
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "concurrency": (
            f"the {len(HTTP_FLAWED)} flawed services' seed series ran concurrently (one "
            f"process each) on a {os.cpu_count()}-core machine, in {flawed_wall:.0f} s wall; "
            "the correct services ran alone, one after another"
        ),
        "load_average_1_5_15_min": {
            "before": [round(x, 1) for x in load_before],
            "after_flawed": [round(x, 1) for x in load_flawed],
            "after": [round(x, 1) for x in os.getloadavg()],
        },
        "seeds": seeds,
        "max_examples": max_examples,
        "summary": summarise_http(rows),
        "correct": correct,
        "runs": rows,
    }


def print_http(report: dict[str, Any]) -> None:
    print("| service (mode) | caught | headline checker | first violation, median | worst "
          "| explore total, median / worst | shrunk steps, median / max | examples run, median |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for s in report["summary"]:
        checkers = ", ".join(f"{c} ({n})" for c, n in s["headline_checkers"].items())
        print(f"| {s['service']} ({s['mode']}) | {s['caught']} | {checkers or '-'} "
              f"| {s['median_first_s']} s | {s['worst_first_s']} s "
              f"| {s['median_total_s']} / {s['worst_total_s']} s "
              f"| {s['median_steps']} / {s['max_steps']} | {s['median_examples']} |")
    for s in report["summary"]:
        if s["missed_seeds"] or s["flaky_seeds"]:
            print(f"{s['service']} ({s['mode']}): not caught, seeds {s['missed_seeds']}; "
                  f"caught but flaky (left out of the steps), seeds {s['flaky_seeds']}")
    print("\nper seed: service (mode) seed: first violation / total, examples, checker, steps")
    for r in report["runs"]:
        flaky = " (flaky: not reproduced on replay, so unshrunk)" if r.get("flaky") else ""
        what = (f"{r.get('checker')} {r.get('steps')} steps{flaky}" if r["caught"]
                else f"NOT CAUGHT ({r['verdict']}: {r.get('reason') or r.get('error')})")
        first = r["first_violation_s"]
        first_text = "-" if first is None else f"{first:.2f} s"
        print(f"  {r['service']} ({r['mode']}) seed {r['seed']}: {first_text} / "
              f"{r['total_s']} s, {r['examples']} examples run, {what}")
    print()
    for c in report["correct"]:
        print(f"{c['service']} (correct), seed {c['seed']}: {c['examples']} examples in "
              f"{c['seconds']} s = {c['examples_per_s']} examples/s ({c['steps_per_s']} steps/s),"
              f" verdict {c['verdict']}" + ("" if c["verdict"] == "verified"
                                             else f" — {c['reason']}"))
    print(f"\n{report['concurrency']}; load average (1/5/15 min) "
          f"{report['load_average_1_5_15_min']}")


def write_json(report: dict[str, Any], target: str) -> None:
    if target == "-":
        print(json.dumps(report, indent=2))
    else:
        Path(target).write_text(json.dumps(report, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--max-examples", type=int, default=None,
                        help="per flawed run (default 200; with --http 100, explore's default)")
    parser.add_argument("--safe-examples", type=int, default=None,
                        help="for safe (default 200) or each correct service (--http: 100)")
    parser.add_argument("--http", action="store_true",
                        help="the own HTTP services of tests/services, not the reference variants")
    parser.add_argument("--variants", default=",".join(FLAWED),
                        help=f"flawed reference variants to run, comma-separated (default "
                        f"{','.join(FLAWED)})")
    parser.add_argument("--no-safe", action="store_true", help="skip the safe speed run")
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                        help="bare: print JSON instead of the table; PATH: write it there too")
    args = parser.parse_args()
    logging.getLogger("reference_impl").setLevel(logging.ERROR)
    if args.http:
        http = http_report(
            args.seeds,
            args.max_examples or HTTP_MAX_EXAMPLES,
            args.safe_examples or HTTP_MAX_EXAMPLES,
        )
        if args.json is not None:
            write_json(http, args.json)
        if args.json != "-":
            print_http(http)
        return 0
    args.max_examples = args.max_examples or 200
    args.safe_examples = args.safe_examples or 200
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    unknown = [v for v in variants if v not in FLAWED]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; expected some of {', '.join(FLAWED)}")
    rows: list[dict[str, Any]] = []
    safe: dict[str, Any] | None = None
    with provision_postgres(mode="embedded") as server, running_standin(seed=0) as standin:
        for variant in variants:
            for seed in range(args.seeds):
                row = one_run(variant, seed, server.url, standin, args.max_examples)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        if not args.no_safe:
            safe = safe_speed(server.url, standin, args.safe_examples, seed=0)
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "summary": summarise(rows, variants),
        "safe": safe,
        "runs": rows,
    }
    if args.json is not None:
        write_json(report, args.json)
        if args.json == "-":
            return 0
    print("| variant | caught | first violation, median | worst | explore total, median "
          "| shrunk steps, median / max | causes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for s in report["summary"]:
        print(f"| {s['variant']} | {s['caught']} | {s['median_first_s']} s | {s['worst_first_s']} s"
              f" | {s['median_total_s']} s | {s['median_steps']} / {s['max_steps']} "
              f"| {', '.join(s['causes'])} |")
    if safe is not None:
        print(f"\nsafe: {safe['examples']} examples in {safe['seconds']} s = "
              f"{safe['examples_per_s']} examples/s ({safe['steps_per_s']} steps/s), "
              f"verdict {safe['verdict']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
