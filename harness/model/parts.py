"""Provisioning for exploration: PostgreSQL, the stand-in and the target, as one context."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checkers.registry import CheckerEntry
from harness.errors import UsageError
from harness.model.environment import FAULT_FAMILIES, Environment, ModelConfig
from harness.model.targets import Target, TargetSpec, parse_target
from harness.provision.pg_watchdog import release, start_watchdog
from harness.targets.registry import REFERENCE, get_provider
from harness.targets.settle import EXPLORE_SETTLE_S
from harness.targets.standin import verify_standin

if TYPE_CHECKING:
    from harness.targets.provider import Schema

__all__ = [
    "PartsRequest",
    "deadline_after",
    "open_environment",
    "parse_faults",
    "validate_workers",
    "verify_standin",
]

HTTP_HANG_MS = 2500


@dataclass(frozen=True)
class PartsRequest:
    """What the user asked for: the target and where (if anywhere) its parts already run."""

    target: str
    workers: int = 2
    faults: tuple[str, ...] = FAULT_FAMILIES
    stripe_url: str | None = None
    database_url: str | None = None
    seed: int = 0
    http_timeout_s: float = 2.0
    db_query: str | None = None
    settle_s: float = EXPLORE_SETTLE_S
    service_pid: int | None = None
    # `--adapter path/file.py:Class`: how to speak to an HTTP target's own API (None: the contract).
    adapter: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    checkers: tuple[CheckerEntry, ...] = ()  # the user's own (harness.checkers.user)
    # The run directory: the example in progress keeps its history and ledger there.
    evidence_dir: Path | None = None

    def spec(self) -> TargetSpec:
        return parse_target(self.target)


def validate_workers(workers: int) -> None:
    if not 1 <= workers <= 8:
        raise UsageError(f"Expected --workers between 1 and 8, got --workers {workers}")


def parse_faults(raw: str) -> tuple[str, ...]:
    """`all`, `none`, or a comma list of fault families."""
    text = raw.strip().lower()
    if text == "all":
        return FAULT_FAMILIES
    if text == "none":
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in FAULT_FAMILIES]
    if unknown or not names:
        raise UsageError(
            f"Unknown fault family {', '.join(unknown) or raw!r} in --faults {raw}; "
            f"expected all, none, or a comma list of: {', '.join(FAULT_FAMILIES)}"
        )
    return names


@contextlib.contextmanager
def _standin(request: PartsRequest, parts: dict[str, Any]) -> Iterator[str]:
    if request.stripe_url:
        verify_standin(request.stripe_url)
        parts["stripe"] = {"tier": "standin", "url": request.stripe_url, "started_by": "user"}
        yield request.stripe_url.rstrip("/")
        return
    from harness.stripe_standin import running_standin

    # Our own stand-in journals its ledger into the run directory as it goes: the ledger
    # up to any moment survives payrace (a reset, between examples, starts it afresh).
    journal = request.evidence_dir / "ledger.jsonl" if request.evidence_dir else None
    with running_standin(seed=request.seed, journal=journal) as url:
        parts["stripe"] = {"tier": "standin", "url": url, "started_by": "payrace"}
        yield url


@contextlib.contextmanager
def _own_database(
    request: PartsRequest, parts: dict[str, Any], schema: Schema | None
) -> Iterator[str]:
    """A fresh database payrace makes for the target: with its provider's schema, or empty
    for a python: target (its factory creates its own tables)."""
    from harness.provision.postgres import fresh_database, provision_postgres

    with provision_postgres(mode="auto", url=request.database_url) as server:
        parts["postgres"] = server.as_part()
        with fresh_database(server.url, "payrace_explore", schema) as url:
            yield url


@contextlib.contextmanager
def open_environment(
    request: PartsRequest, *, deadline: float | None = None
) -> Iterator[tuple[Environment, dict[str, Any]]]:
    """Start (or reach) every part the request needs and yield the bound-ready environment."""
    from harness.stripe_standin import StandinAdmin

    spec = request.spec()
    validate_workers(request.workers)
    parts: dict[str, Any] = {}
    scratch = Path(tempfile.mkdtemp(prefix="payrace-explore-"))
    # Removes the scratch dir should payrace be killed before its own cleanup runs.
    watchdog = start_watchdog(scratch, None)
    target: Target
    with contextlib.ExitStack() as stack:
        stack.callback(release, watchdog)  # last: the directory is already gone by then
        stack.callback(shutil.rmtree, scratch, True)
        if spec.kind == "reference":
            provider = get_provider(REFERENCE)
            # The stand-in first: a wrong --stripe-url is found before PostgreSQL starts.
            stripe_url = stack.enter_context(_standin(request, parts))
            db_url = stack.enter_context(_own_database(request, parts, provider.schema()))
            target = provider.inprocess_target(
                spec, db_url, stripe_url, request.workers, failpoints="failpoints" in request.faults
            )
            hang_ms = ModelConfig.hang_ms
        elif spec.kind == "python":
            from harness.model.python_target import PythonTarget
            from harness.targets.python_factory import load_factory

            factory = load_factory(spec.value)  # a wrong name is found before anything starts
            stripe_url = stack.enter_context(_standin(request, parts))
            db_url = stack.enter_context(_own_database(request, parts, None))
            target = PythonTarget(spec, db_url, stripe_url, request.workers, factory)
            # The factory's provider timeout is its own: hold answers as long as for HTTP.
            hang_ms = HTTP_HANG_MS
        else:
            if not request.stripe_url:
                raise UsageError(
                    f"--target {spec.value} needs --stripe-url: the stand-in your service "
                    "talks to (start it with `payrace stand-in`)"
                )
            from harness.adapters import load_adapter
            from harness.model.http_target import HttpTarget, probe_http_target
            from harness.targets.abilities import probe_abilities
            from harness.targets.preflight import preflight

            adapter = load_adapter(request.adapter)
            stripe_url = stack.enter_context(_standin(request, parts))
            probe_http_target(spec.value, adapter)
            foreign_db = _foreign_database(request, parts)
            abilities = probe_abilities(
                spec.value,
                database_url=foreign_db,
                db_query=request.db_query,
                service_pid=request.service_pid,
            )
            abilities = replace(abilities, adapter=request.adapter)
            with StandinAdmin(stripe_url) as check:
                check.clear_faults()
                parts["preflight"] = preflight(spec.value, check, adapter=adapter)
            target = HttpTarget(
                spec, request.workers, abilities, timeout_s=request.http_timeout_s,
                adapter=adapter, adapter_label=request.adapter,
            )
            hang_ms = HTTP_HANG_MS
        stack.callback(target.close)
        parts["target"] = target.part()
        standin = stack.enter_context(StandinAdmin(stripe_url))
        config = ModelConfig(
            workers=request.workers,
            faults=frozenset(request.faults),
            hang_ms=hang_ms,
            settle_s=request.settle_s,
            checkers=request.checkers,
        )
        env = Environment(target, standin, config, scratch, deadline=deadline,
                          evidence_dir=request.evidence_dir,
                          ledger_journalled=parts["stripe"]["started_by"] == "payrace")
        stack.callback(env.close)
        yield env, parts


def _foreign_database(request: PartsRequest, parts: dict[str, Any]) -> str | None:
    """The service's own database, when the user gave it: for the SQL view and connection kills."""
    if not request.database_url:
        parts["postgres"] = {"tier": "none", "note": "the target's own database, not given"}
        return None
    from harness.provision.postgres import normalize_url, server_version

    db_url = normalize_url(request.database_url)
    parts["postgres"] = {"tier": "url", "version": server_version(db_url), "owner": "target"}
    return db_url


def deadline_after(max_time: float | None) -> float | None:
    return None if max_time is None else time.monotonic() + max_time
