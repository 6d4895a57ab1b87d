"""Benchmark: what the adapter layer costs per operation, beside an HTTP round trip.

Run: .venv/bin/python benchmarks/bench_adapters.py              (200k judgements, 2,000 requests)
     .venv/bin/python benchmarks/bench_adapters.py --judgements 50000 --requests 500
Compares, in one run: classifying a charge answer directly (classify_response) and through
the default ContractAdapter (build + judge), and a whole HttpClient operation through the
adapter against a bare httpx request to the same loopback server (the stand-in's health page).
A measurement for docs/PERFORMANCE.md, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.adapters import Answer, ContractAdapter, Request, judge, ok
from harness.adapters.judge import build
from harness.clients.http import HttpClient
from harness.history import Classified, classify_response
from harness.stripe_standin import running_standin

BODY = {"id": "pay_1", "status": "completed", "charge_id": "ch_1"}


class Health:
    """An adapter whose every operation is a GET of the stand-in's health page."""

    def create(self, amount: int, currency: str, customer: str | None) -> Request:
        return Request("GET", "/_standin/health")

    def created(self, answer: Answer) -> Classified:
        return ok({"id": "pay_1"})

    def charge(self, payment_id: str, key: str | None) -> Request:
        return Request("GET", "/_standin/health", headers={"Idempotency-Key": key or ""})

    def charged(self, answer: Answer) -> Classified:
        return ok({"charge_id": "ch_1"})

    def read(self, payment_id: str) -> Request:
        return Request("GET", "/_standin/health")

    def payment(self, answer: Answer) -> Classified:
        return ok({"status": "completed"})


def per_op_us(n: int, fn: object) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgements", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    adapter = ContractAdapter()
    answer = Answer(200, BODY)
    direct = per_op_us(args.judgements, lambda: classify_response("charge", 200, BODY))
    adapted = per_op_us(args.judgements, lambda: (
        build(adapter, "charge", "pay_1", "k1"), judge(adapter, "charge", answer,
                                                       payment_id="pay_1")))
    print(f"python {platform.python_version()} {platform.machine()}")
    print(f"classify_response           {direct:8.2f} µs/op")
    print(f"ContractAdapter build+judge {adapted:8.2f} µs/op  ({adapted / direct:.1f}× direct)")
    with running_standin(seed=0) as url:
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=url, timeout=5.0, limits=limits) as bare:
            bare.get("/_standin/health")
            raw = per_op_us(args.requests, lambda: bare.get("/_standin/health"))
        client = HttpClient(url, None, adapter=Health())
        try:
            client.charge("pay_1", "k1")
            through = per_op_us(args.requests, lambda: client.charge("pay_1", "k1"))
        finally:
            client.close()
    print(f"bare httpx GET              {raw:8.1f} µs/op")
    print(f"HttpClient.charge (adapter) {through:8.1f} µs/op  ({through / raw:.2f}× bare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
