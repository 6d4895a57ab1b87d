"""Load over time from the history: throughput by outcome and latency percentiles per bucket."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from harness.report.operations import OUTCOMES, Operation

# Bucket widths the charts may use, in seconds: aim for about 60 buckets across a run.
_WIDTHS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TARGET_BUCKETS = 60


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100); 0.0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def bucket_width(duration_s: float) -> float:
    """The smallest listed width that keeps the run within about TARGET_BUCKETS buckets."""
    return next((w for w in _WIDTHS if duration_s / w <= TARGET_BUCKETS), _WIDTHS[-1])


def load_series(ops: list[Operation], duration_s: float | None = None) -> dict[str, Any]:
    """Per bucket: completions per second by outcome, and charge latency p50/p95/p99 in ms."""
    done = [op for op in ops if op.end is not None]
    end = max([op.end or 0.0 for op in done] + [duration_s or 0.0, 0.001])
    first = min((op.start for op in ops), default=0.0)
    # Provisioning comes before the first operation: the charts start where the load starts.
    width = bucket_width(end - first)
    n = int(end / width) + 1
    counts = {o: [0] * n for o in OUTCOMES}
    latency_ops = [op for op in done if op.f == "charge"] or done
    per_bucket: list[list[float]] = [[] for _ in range(n)]
    for op in done:
        b = min(n - 1, int((op.end or 0.0) / width))
        if op.outcome in counts:
            counts[op.outcome][b] += 1
    for op in latency_ops:
        b = min(n - 1, int((op.end or 0.0) / width))
        per_bucket[b].append((op.latency_s or 0.0) * 1000.0)
    for values in per_bucket:
        values.sort()
    return {
        "bucket_s": width,
        "t": [round(i * width, 6) for i in range(n)],
        "throughput": {o: [c / width for c in counts[o]] for o in OUTCOMES},
        "latency_of": "charge" if latency_ops is not done else "all operations",
        "latency_ms": {
            f"p{q}": [percentile(v, q) if v else None for v in per_bucket] for q in (50, 95, 99)
        },
        "duration_s": end,
        "start_s": max(0.0, math.floor(first / width) * width - width),
    }


def latency_table(ops: list[Operation]) -> list[dict[str, Any]]:
    """One row per operation kind: counts by outcome and latency percentiles over the whole run."""
    by_f: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:  # one pass, not one per kind and outcome: a run may hold millions
        by_f[op.f].append(op)
    rows = []
    for f in sorted(by_f):
        mine = by_f[f]
        outcomes = Counter(op.outcome for op in mine)
        lat = sorted([(op.latency_s or 0.0) * 1000.0 for op in mine if op.end is not None])
        rows.append({
            "f": f,
            "count": len(mine),
            **{o: outcomes[o] for o in (*OUTCOMES, "open")},
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "p99": percentile(lat, 99),
            "max": lat[-1] if lat else 0.0,
        })
    return rows
