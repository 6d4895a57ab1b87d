"""Benchmark: charges/s through the stand-in vs a bare aiohttp JSON endpoint, 64 concurrent clients.

Run: .venv/bin/python benchmarks/bench_standin.py [--seconds 5] [--clients 64] [--rounds 3]
     .venv/bin/python benchmarks/bench_standin.py --webhooks [--seconds 5] [--clients 64]

Both servers run in their own processes on loopback; this process is the load generator, the
same for both, so the ratio measures what the stand-in's own work costs. Rounds alternate
between the two so background load on the machine falls on both alike. Goal: the stand-in
keeps at least 50% of the bare endpoint's rate, so it never limits a load test.

`--webhooks` instead registers one webhook endpoint (a bare receiver in its own process,
answering 200) for `charge.succeeded`, drives the same charge load, and reports the charge rate
with a listener and the webhook deliveries/s to that one receiver (from the stand-in's ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.stripe_standin import TEST_API_KEY, StandinAdmin, running_standin


def bare_server() -> None:
    """A bare JSON endpoint on the same framework and server settings as the stand-in."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=json.dumps({"ok": True}).encode(),
                            content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        print(f"listening on http://{host}:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


@contextlib.contextmanager
def running_bare() -> Iterator[tuple[str, int]]:
    """The bare endpoint in its own process; yields its URL and pid."""
    proc = subprocess.Popen([sys.executable, __file__, "--bare-server"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split("listening on ")[1].strip(), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User+system CPU time the server process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def load(
    url: str, pid: int, clients: int, seconds: float, warmup: float
) -> dict[str, float]:
    """POST charges to {url}/v1/charges from `clients` concurrent connections; return the rates.

    Besides the rate, the server's CPU time per request: on a shared, busy machine the rate
    moves with the neighbours' load, the CPU cost per request much less.
    """
    counter = itertools.count()
    run = uuid.uuid4().hex[:8]  # fresh keys every round, so no request is a replay
    latencies: list[float] = []
    ok = failed = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        measure_from = time.monotonic() + warmup
        stop = measure_from + seconds
        cpu_at: list[float] = []

        async def worker() -> None:
            nonlocal ok, failed
            while (sent := time.monotonic()) < stop:
                n = next(counter)
                headers = {"Authorization": f"Bearer {TEST_API_KEY}",
                           "Idempotency-Key": f"bench-{run}-{n}"}
                data = {"amount": "1000", "currency": "usd", "source": "tok_visa",
                        "metadata[payment_id]": f"pay_{run}_{n}"}
                async with session.post(f"{url}/v1/charges", data=data, headers=headers) as r:
                    await r.read()
                if sent >= measure_from:
                    if not cpu_at:
                        cpu_at.append(cpu_seconds(pid))
                    latencies.append(time.monotonic() - sent)
                    if r.status == 200:
                        ok += 1
                    else:
                        failed += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
        cpu = cpu_seconds(pid) - cpu_at[0]
    latencies.sort()
    return {
        "cpu_us": 1e6 * cpu / max(ok + failed, 1),
        "rate": ok / seconds,
        "ok": ok,
        "failed": failed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
    }


def webhook_bench(seconds: float, warmup: float, clients: int) -> None:
    """Charges/s with one webhook endpoint listening, and deliveries/s to it."""
    import httpx

    with running_bare() as (receiver_url, _pid), running_standin() as url:
        admin = StandinAdmin(url)
        httpx.post(f"{url}/v1/webhook_endpoints", headers={
            "Authorization": f"Bearer {TEST_API_KEY}"}, data={
            "url": receiver_url + "/hooks", "enabled_events[]": "charge.succeeded"},
        ).raise_for_status()
        pid = admin.health()["pid"]
        result = asyncio.run(load(url, pid, clients, seconds, warmup))
        load_ended = time.time()
        backlog = admin.webhooks()["queued"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = admin.webhooks()
            if not state["queued"] and not state["scheduled"]:
                break
            time.sleep(0.2)
        entries = admin.ledger_entries("webhook")
        charges = len(admin.charges())
    walls = sorted(e["wall"] for e in entries if e["status"] == 200)
    span = walls[-1] - walls[0] if len(walls) > 1 else 0.0
    drained = [w for w in walls if w > load_ended]
    drain_span = drained[-1] - load_ended if drained else 0.0
    print(f"clients={clients} {seconds}s (after {warmup}s warm-up), one webhook endpoint for "
          "charge.succeeded on a local receiver:")
    print(f"stand-in POST /v1/charges with a listener: {result['rate']:7.0f} charges/s  p50 "
          f"{result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms")
    print(f"webhook deliveries: {len(walls)} of {charges} charges delivered (2xx), "
          f"{len(entries) - len(walls)} failed attempts")
    print(f"webhook deliveries/s to one local receiver: {len(walls) / max(span, 1e-9):7.0f} "
          f"(first to last delivery, {span:.1f} s, while charges kept coming)")
    if drained:
        print(f"backlog when the load stopped: {backlog}; drained alone at "
              f"{len(drained) / max(drain_span, 1e-9):.0f} deliveries/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of each; medians are reported")
    parser.add_argument("--webhooks", action="store_true",
                        help="measure webhook deliveries/s to one local receiver instead")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server()
        return
    if args.webhooks:
        webhook_bench(args.seconds, args.warmup, args.clients)
        return
    results: dict[str, list[dict[str, float]]] = {"bare": [], "standin": []}
    with running_bare() as (bare_url, bare_pid), running_standin() as url:
        standin_pid = StandinAdmin(url).health()["pid"]
        for _ in range(args.rounds):
            for name, target, pid in (("bare", bare_url, bare_pid), ("standin", url, standin_pid)):
                results[name].append(
                    asyncio.run(load(target, pid, args.clients, args.seconds, args.warmup)))
        charges = len(StandinAdmin(url).charges())
        rss_mb = psutil.Process(standin_pid).memory_info().rss / 2**20
    ok_total = sum(int(r["ok"]) for r in results["standin"])

    def median(name: str, field: str) -> float:
        return statistics.median(r[field] for r in results[name])

    def rounds(name: str) -> str:
        return ", ".join(f"{r['rate']:.0f}" for r in results[name])

    bare, standin = median("bare", "rate"), median("standin", "rate")
    print(f"clients={args.clients} rounds={args.rounds} x {args.seconds}s "
          f"(each after {args.warmup}s warm-up); medians:")
    print(f"bare aiohttp JSON endpoint: {bare:7.0f} req/s      p50 "
          f"{median('bare', 'p50_ms'):.1f} ms  p99 {median('bare', 'p99_ms'):.1f} ms  "
          f"(rounds: {rounds('bare')})")
    print(f"stand-in POST /v1/charges:  {standin:7.0f} charges/s  p50 "
          f"{median('standin', 'p50_ms'):.1f} ms  p99 {median('standin', 'p99_ms'):.1f} ms  "
          f"(rounds: {rounds('standin')})")
    bare_cpu, standin_cpu = median("bare", "cpu_us"), median("standin", "cpu_us")
    print(f"server CPU per request: bare {bare_cpu:.0f} us, stand-in {standin_cpu:.0f} us "
          f"(bare/stand-in {bare_cpu / standin_cpu:.0%})")
    print(f"failed charges: {sum(int(r['failed']) for r in results['standin'])}; ledger charges "
          f"{charges} >= measured successes {ok_total}: {charges >= ok_total}")
    print(f"stand-in memory: {rss_mb:.0f} MiB RSS holding {charges} charges with their keys "
          f"and ledger (~{rss_mb * 2**20 / max(charges, 1) / 1024:.1f} KiB per charge)")
    print(f"ratio: {standin / bare:.0%} of the bare endpoint (goal >= 50%)")


if __name__ == "__main__":
    main()
