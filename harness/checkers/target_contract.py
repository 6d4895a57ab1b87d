"""target-contract: the target honours docs/TARGETS.md — charge ids, forward statuses, metadata."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from harness.checkers._describe import (
    first_worst_last,
    fmt_t,
    make_violation,
    plural,
    time_order,
)
from harness.checkers.evidence import Evidence
from harness.checkers.merge import merged_violations
from harness.checkers.result import CheckResult, Violation
from harness.history import Op

NAME = "target-contract"

# pending → processing → completed | failed; the two terminal statuses share a rank.
RANK = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
INF = float("inf")
_OBSERVED = frozenset({"create", "read", "charge"})  # ok answers that report a status


class Seen(NamedTuple):
    """One observation of a payment's status: when it could have been true, and who saw it."""

    start: float
    end: float
    status: str
    ops: tuple[Op, ...]  # invoke and completion; empty for the DB snapshot
    label: str  # "op 7" or "the database snapshot"


Raw = tuple[str, float, float, str, tuple[Op, ...], str]


def _each_observation(evidence: Evidence) -> Iterator[Raw]:
    """(payment, start, end, status, ops, label) for every status the target reported, in
    invoke order: ok creates/reads/charges, a charge's 202 processing, then the DB snapshot."""
    for operation in evidence.pairing.operations:
        done = operation.completion
        if done is None or done.value is None:
            continue
        pid, status = operation.invoke.payment_id, done.value.get("status")
        if pid is None or not isinstance(status, str):
            continue
        f = operation.invoke.f
        if (done.type == "ok" and f in _OBSERVED) or (f == "charge" and status == "processing"):
            yield pid, operation.invoke.time, done.time, status, (operation.invoke, done), ""
    for row in evidence.db or ():
        pid, status = row.get("id"), row.get("status")
        if isinstance(pid, str) and isinstance(status, str):
            yield pid, INF, INF, status, (), "the database snapshot"


def _suspects(evidence: Evidence) -> set[str]:
    """Payments whose observations are not plainly forward-only in start order: one cheap pass.

    Observations sorted by start with non-decreasing rank can never show a real-time step
    backwards, so only the rest need the full sweep. Per payment the pass keeps (the
    highest rank seen, its status, the last start): a payment is a suspect when an
    observation has no rank, a lower rank, an earlier start than the one before, or the
    other terminal status. Once a suspect, always one: its state no longer matters.
    """
    state: dict[str, tuple[int, str, float]] = {}
    suspects: set[str] = set()
    rank_of = RANK.get
    # The same filter as _each_observation, inlined: this loop runs over every operation;
    # one dict per payment, not two (a quarter of the pass's time at a million ops).
    for invoke, done in evidence.pairing.operations:
        if done is None or done.value is None or invoke.payment_id is None:
            continue
        status, f = done.value.get("status"), invoke.f
        if not isinstance(status, str):
            continue
        if (done.type == "ok" and f in _OBSERVED) or (f == "charge" and status == "processing"):
            _note(invoke.payment_id, status, invoke.time, rank_of(status), state, suspects)
    for row in evidence.db or ():
        pid, status = row.get("id"), row.get("status")
        if isinstance(pid, str) and isinstance(status, str):
            _note(pid, status, INF, rank_of(status), state, suspects)
    return suspects


def _note(pid: str, status: str, start: float, rank: int | None,
          state: dict[str, tuple[int, str, float]], suspects: set[str]) -> None:
    """Fold one observation into the pre-pass (see _suspects)."""
    seen = state.get(pid)
    if rank is None:
        suspects.add(pid)
    elif seen is None:
        state[pid] = (rank, status, start)
    else:
        top_rank, top, last_start = seen
        if (rank < top_rank or start < last_start
                or (rank == 2 == top_rank and status != top)):  # completed vs failed
            suspects.add(pid)
        elif rank > top_rank:
            state[pid] = (rank, status, start)
        else:
            state[pid] = (top_rank, top, start)


def _observations(evidence: Evidence, only: set[str]) -> dict[str, list[Seen]]:
    """Full observations of the given payments, for the sweep and the evidence."""
    seen: dict[str, list[Seen]] = defaultdict(list)
    for pid, start, end, status, ops, label in _each_observation(evidence):
        if pid in only:
            seen[pid].append(Seen(start, end, status, ops, label or f"op {ops[-1].index}"))
    return seen


def _backwards(observations: list[Seen]) -> tuple[Seen, Seen] | None:
    """The first pair where a later observation shows an earlier status, in real-time order.

    Only observations that finished before another began are ordered (overlapping reads
    may linearise either way); a sweep keeps the highest status seen so far: O(n log n).
    """
    by_start = sorted(observations, key=lambda s: s.start)
    completed = [s for s in by_start if s.status == "completed"]
    failed = [s for s in by_start if s.status == "failed"]
    if completed and failed:  # a terminal status never changes, whatever the order seen
        return (
            (completed[0], failed[0])
            if completed[0].start <= failed[0].start
            else (failed[0], completed[0])
        )
    by_end = sorted(observations, key=lambda s: s.end)
    best: Seen | None = None
    i = 0
    for current in by_start:
        while i < len(by_end) and by_end[i].end < current.start:
            done = by_end[i]
            if best is None or RANK[done.status] > RANK[best.status]:
                best = done
            i += 1
        if best is None:
            continue
        if RANK[current.status] < RANK[best.status]:
            return best, current
    return None


def _step_violation(evidence: Evidence, pid: str, before: Seen, after: Seen) -> Violation:
    when = "" if after.start == INF else f" at {fmt_t(after.start)}"
    because = (
        f"payment {pid} went backwards from {before.status} ({before.label}, "
        f"{fmt_t(before.end)}) to {after.status} ({after.label}{when}); statuses only "
        f"move pending → processing → completed | failed"
    )
    db = [row for row in evidence.db or () if row.get("id") == pid] if after.start == INF else []
    return make_violation(
        evidence,
        NAME,
        pid,
        because,
        ops=[*before.ops, *after.ops],
        db=db,
        kind="status-backwards",
        details={"from": before.status, "to": after.status},
    )


def check_target_contract(evidence: Evidence) -> CheckResult:
    """Invalid when the target breaks a promise of docs/TARGETS.md that the checkers depend on."""
    violations: list[Violation] = []
    for operation in evidence.pairing.operations:
        done = operation.completion
        if operation.f != "charge" or done is None or done.type != "ok":
            continue
        if not (done.value or {}).get("charge_id"):
            because = (
                f"payment {operation.payment_id} was charged ok at op {done.index} "
                f"but the response carries no charge_id"
            )
            violations.append(
                make_violation(
                    evidence,
                    NAME,
                    operation.payment_id,
                    because,
                    ops=operation.ops(),
                    kind="ok-without-charge-id",
                )
            )
    for row in evidence.db or ():
        if row.get("status") == "completed" and not row.get("charge_id"):
            pid = row.get("id")
            because = f"payment {pid} is completed in the database but has no charge_id"
            violations.append(
                make_violation(
                    evidence,
                    NAME,
                    pid if isinstance(pid, str) else None,
                    because,
                    db=[row],
                    kind="completed-without-charge-id",
                )
            )
    unknown_statuses = 0
    suspects = _suspects(evidence)
    swept = _observations(evidence, suspects) if suspects else {}
    for pid, observations in swept.items():
        strange = [s for s in observations if s.status not in RANK]
        if strange:
            unknown_statuses += len(strange)
            because = (
                f"payment {pid} reported status {strange[0].status!r} "
                f"({strange[0].label}); the contract allows pending, processing, "
                f"completed, failed"
            )
            violations.append(
                make_violation(
                    evidence, NAME, pid, because, ops=strange[0].ops, kind="unknown-status"
                )
            )
            observations = [s for s in observations if s.status in RANK]
        step = _backwards(observations)
        if step is not None:
            violations.append(_step_violation(evidence, pid, *step))
    for entry in evidence.unattributed_charges:
        because = (
            f"charge {entry.get('id')} at {fmt_t(evidence.at(entry))} "
            f"carries no metadata.payment_id, so no checker can tell whose money it took"
        )
        violations.append(
            make_violation(
                evidence, NAME, None, because, ledger=[entry], kind="charge-without-payment-id"
            )
        )
    violations.sort(key=time_order)
    return _conclude(violations, evidence.db is not None, unknown_statuses)


def merge_target_contract(parts: Sequence[CheckResult]) -> CheckResult:
    """The whole run's result from its partitions' (a payment's ops and row never span two)."""
    return _conclude(merged_violations(parts), bool(parts[0].stats["db_checked"]),
                     sum(int(part.stats["unknown_statuses"]) for part in parts))


def _conclude(violations: list[Violation], db_checked: bool, unknown_statuses: int,
              ) -> CheckResult:
    kinds: dict[str, int] = defaultdict(int)
    for v in violations:
        kinds[v.kind] += 1
    stats = {
        "violations": len(violations),
        "by_kind": dict(kinds),
        "db_checked": db_checked,
        "unknown_statuses": unknown_statuses,
        **first_worst_last(violations, lambda v: 1.0),
    }
    scope = "" if db_checked else " (no database snapshot, so rows were not checked)"
    if violations:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        summary = (
            f"{plural(len(violations), 'contract breach', 'contract breaches')}: {parts}{scope}"
        )
        return CheckResult(NAME, "invalid", "error", summary, violations, stats)
    summary = (
        f"charge ids present, statuses only moved forward, every charge names its payment{scope}"
    )
    return CheckResult(NAME, "valid", "error", summary, [], stats)


__all__ = ["NAME", "RANK", "check_target_contract", "merge_target_contract"]
