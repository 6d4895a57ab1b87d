"""Benchmark: seconds to render a run's report (index.html + junit.xml) as the history grows.

Run: .venv/bin/python benchmarks/bench_report.py          (~20k and ~40k history events)
     .venv/bin/python benchmarks/bench_report.py --payments 125000,250000 --rounds 1
                                                            (~500k and ~1M history events)
Goal (issue #12 item 4): the report of a 1M-operation run written in <= 10 s, counting
operations as bench_checkers counts them: history lines (events; an operation's invoke and
its completion are two), so the paired client operations are half as many.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# The sample run is a test fixture (tests/sample_runs.py), not part of the product.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report import write_report
from tests.sample_runs import write_sample_run


def measure(background_payments: int, rounds: int) -> dict[str, float]:
    """Best-of-N CPU and wall seconds for one sample pr145 run with this many extra payments."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = write_sample_run(Path(tmp) / "run", "pr145",
                                   background_payments=background_payments, locust=True)
        with (run_dir / "history.jsonl").open("rb") as fh:
            events = sum(1 for _ in fh)
        cpu, wall = [], []
        for _ in range(rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            page = write_report(run_dir)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        return {"events": events, "operations": events // 2, "cpu_s": min(cpu),
                "wall_s": min(wall),
                "page_bytes": page.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--payments", default="5000,10000",
                        help="background payments per sample run, comma-separated (~4 ops each)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(int(n), args.rounds) for n in args.payments.split(",")]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        print(f"{row['events']:>9,} events ({row['operations']:,} operations): "
              f"{row['cpu_s']:.2f} s CPU, "
              f"{row['wall_s']:.2f} s wall, page {row['page_bytes'] / 1e6:.2f} MB")
    print(f"ratio {rows[-1]['events'] / rows[0]['events']:.1f}x events: "
          f"{rows[-1]['cpu_s'] / rows[0]['cpu_s']:.2f}x CPU; load average "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
