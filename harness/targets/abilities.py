"""What a target offers beyond the contract (asked, not assumed), and what faults follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.targets.admin import rows_of

# A probe's answer may be slow on a busy machine (a cold service, CI with jobs side by
# side): a timeout is asked again, so a slow endpoint is never mistaken for a missing one.
PROBE_TIMEOUT_S = 10.0
PROBE_TRIES = 3
SNAPSHOT_PROBE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Abilities:
    """Optional abilities: each one a fault family or an evidence source payrace may use.

    `snapshot`, `reconcile`, `clock`, `failpoints`: the service answers the `/_admin`
    endpoint (docs/TARGETS.md); `database_url`, `db_query`, `service_pid`: the user gave them.
    `in_process`: a python: target, whose abilities are its object's optional methods.
    """

    snapshot: bool = False
    reconcile: bool = False
    clock: bool = False
    failpoints: bool = False
    database_url: str | None = None
    db_query: str | None = None
    service_pid: int | None = None
    in_process: bool = False
    # `--adapter file.py:Class`: payrace's reads speak the service's own API through it.
    adapter: str | None = None
    # A webhook endpoint is registered at the stand-in (None: not looked at yet).
    webhooks: bool | None = None
    # The database's server is one payrace started: a load nemesis may restart it.
    postgres_restart: bool = False

    @classmethod
    def reference(cls, database_url: str | None = None, *, failpoints: bool = True) -> Abilities:
        """payrace's own service offers everything, on the database payrace made for it."""
        return cls(True, True, True, failpoints, database_url, None, None)

    @classmethod
    def python(
        cls, database_url: str, *, snapshot: bool, reconcile: bool, clock: bool
    ) -> Abilities:
        """A python: target: its optional methods, on the database payrace made for it."""
        return cls(snapshot, reconcile, clock, False, database_url, None, None, in_process=True)

    @property
    def view(self) -> str:
        """Where the database view comes from: `snapshot`, `sql` or `reads` (the ladder)."""
        if self.snapshot:
            return "snapshot"
        if self.database_url and self.db_query:
            return "sql"
        return "reads"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["database_url"]:
            data["database_url"] = "given"  # never a password in summary.json
        if not data["in_process"]:
            del data["in_process"]  # summary.json of HTTP and reference targets unchanged
        if data["webhooks"] is None:
            del data["webhooks"]
        if not data["postgres_restart"]:
            del data["postgres_restart"]  # only where it applies: other summaries unchanged
        return data


def _answers(
    client: httpx.Client, method: str, path: str, *, tries: int = PROBE_TRIES, **kwargs: Any
) -> httpx.Response | None:
    """The endpoint's answer, or None when nothing answered (after `tries` timeouts)."""
    for _ in range(tries):
        try:
            return client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            continue
        except httpx.HTTPError:
            return None
    return None


def probe_abilities(
    url: str,
    *,
    database_url: str | None = None,
    db_query: str | None = None,
    service_pid: int | None = None,
) -> Abilities:
    """Ask an HTTP target which optional endpoints it answers; none of the probes changes it.

    `POST /_admin/reconcile` is found by a GET answered 405 (the route exists, POST only) or
    2xx; the clock by `POST /_admin/clock {"advance_seconds": 0}`, which moves nothing.
    """
    with httpx.Client(base_url=url, timeout=PROBE_TIMEOUT_S) as client:
        # A whole-table snapshot may take a while: a slow one is still offered.
        snap = _answers(client, "GET", "/_admin/snapshot", tries=1,
                        timeout=SNAPSHOT_PROBE_TIMEOUT_S)
        snapshot = snap is not None and snap.status_code == 200 and _rows(snap)
        rec = _answers(client, "GET", "/_admin/reconcile")
        reconcile = rec is not None and (rec.status_code == 405 or 200 <= rec.status_code < 300)
        clk = _answers(client, "POST", "/_admin/clock", json={"advance_seconds": 0})
        clock = clk is not None and 200 <= clk.status_code < 300
        fps = _answers(client, "GET", "/_admin/failpoints")
        failpoints = fps is not None and fps.status_code == 200 and _enabled(fps)
    return Abilities(snapshot, reconcile, clock, failpoints, database_url, db_query, service_pid)


def _rows(response: httpx.Response) -> bool:
    try:
        return rows_of(response.json()) is not None
    except ValueError:
        return False


def _enabled(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return not (isinstance(body, dict) and body.get("enabled") is False)


def family_plan(abilities: Abilities, families: Sequence[str]) -> list[dict[str, Any]]:
    """For each asked-for fault family: does it reach this target, and why (or why not)."""
    # Here, not at the top: the families' modules import harness.targets.
    from harness.nemesis.registry import FAMILY_NAMES, family

    plan: list[dict[str, Any]] = []
    for name in families:
        if name in FAMILY_NAMES:
            applies, why = family(name).reach(abilities)
        else:
            applies, why = False, f"unknown fault family {name!r}"
        plan.append({"family": name, "applies": applies, "why": why})
    return plan


def _python_evidence(abilities: Abilities, settle_s: float) -> dict[str, str]:
    view = (
        "the object's snapshot()"
        if abilities.snapshot
        else "payrace's own get_payment(id) of every payment it created"
    )
    settle = (
        f"reconcile(force=True), then get_payment(id) until no payment is processing "
        f"(at most {settle_s:g} s)"
        if abilities.reconcile
        else f"get_payment(id) until no charged payment is left processing or pending, the "
        f"service's own background work finishing them (at most {settle_s:g} s)"
    )
    return {"database_view": view, "settle": settle}


def evidence_plan(abilities: Abilities, settle_s: float) -> dict[str, str]:
    """Where the database view comes from and how payrace lets the target settle."""
    if abilities.in_process:
        return _python_evidence(abilities, settle_s)
    read = (
        f"reads through the adapter {Path(abilities.adapter).name}"
        if abilities.adapter
        else "GET /payments/{id}"
    )
    view = {
        "snapshot": "GET /_admin/snapshot",
        "sql": "--db-query on --database-url (read-only)",
        "reads": f"payrace's own {read} of every payment it created",
    }[abilities.view]
    settle = (
        f"POST /_admin/reconcile, then {read} until no payment is processing "
        f"(at most {settle_s:g} s)"
        if abilities.reconcile
        else f"{read} until no charged payment is left processing or pending, "
        f"the service's own reconciler finishing them (at most {settle_s:g} s)"
    )
    return {"database_view": view, "settle": settle}


def coverage(abilities: Abilities, families: Sequence[str], settle_s: float) -> dict[str, Any]:
    """summary.json `coverage`: the abilities found, each fault family's reach, the evidence."""
    return {
        "abilities": abilities.as_dict(),
        "faults": family_plan(abilities, families),
        **evidence_plan(abilities, settle_s),
    }


def coverage_lines(cov: dict[str, Any]) -> list[str]:
    """The banner: which fault families apply to this target, which were skipped and why."""
    faults = [f for f in cov.get("faults", []) if isinstance(f, dict)]
    used = [f"{f['family']} ({f['why']})" for f in faults if f.get("applies")]
    skipped = [f"{f['family']} ({f['why']})" for f in faults if not f.get("applies")]
    lines = [f"faults that apply: {'; '.join(used) or 'none'}"]
    if skipped:
        lines.append(f"skipped: {'; '.join(skipped)}")
    lines.append(f"database view: {cov.get('database_view')}")
    lines.append(f"settling: {cov.get('settle')}")
    return lines
