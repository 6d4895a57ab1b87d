"""What one `payrace run` is asked to do, validated at the boundary: scenario, target, load."""

from __future__ import annotations

import ast
import os
import re
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.targets.settle import DEFAULT_SETTLE_S
from harness.targets.spec import TargetSpec, parse_target

if TYPE_CHECKING:
    from harness.checkers.registry import CheckerEntry

__all__ = [
    "RunSpec",
    "Target",
    "available_scenarios",
    "check_writable",
    "parse_count",
    "parse_duration",
    "parse_rate",
    "parse_seconds",
    "parse_target",
    "resolve_scenario",
    "scenario_families",
    "scenarios_dir",
]

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")
# Files in scenarios/ that are not scenarios themselves.
_NOT_SCENARIOS = frozenset({"__init__", "common"})


def scenarios_dir() -> Path:
    """The folder of payrace's own locustfiles (a sibling of `harness`, installed or not)."""
    return Path(__file__).resolve().parents[2] / "scenarios"


def available_scenarios() -> list[str]:
    """Names accepted by `payrace run <scenario>`, in order."""
    return sorted(p.stem for p in scenarios_dir().glob("*.py")
                  if p.stem not in _NOT_SCENARIOS and not p.stem.startswith("_"))


# What a locustfile that declares no FAULT_FAMILIES brings: the stand-in's provider faults.
DEFAULT_FAMILIES = ("provider",)


def scenario_families(scenario: str | Path) -> tuple[str, ...]:
    """The fault families a scenario (a name, or a locustfile's path) declares:
    `FAULT_FAMILIES = (...)` at its top level.

    Read from its source, never imported: a locustfile imports Locust, which patches this
    process's sockets for gevent.
    """
    try:
        path = scenario if isinstance(scenario, Path) else resolve_scenario(scenario)
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (UsageError, OSError, SyntaxError, ValueError):
        return DEFAULT_FAMILIES  # Locust itself will say what is wrong with the file
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "FAULT_FAMILIES" and value is not None:
            try:
                names = ast.literal_eval(value)
            except ValueError:
                break
            if isinstance(names, tuple | list) and all(isinstance(n, str) for n in names):
                return tuple(names)
    return DEFAULT_FAMILIES


def resolve_scenario(name: str) -> Path:
    """A scenario name (`retry_storm`) or a path to the user's own locustfile."""
    stem = name[:-3] if name.endswith(".py") else name
    if stem in available_scenarios():
        return scenarios_dir() / f"{stem}.py"
    candidate = Path(name)
    if candidate.suffix == ".py" and candidate.is_file():
        return candidate.resolve()
    raise UsageError(
        f"Unknown scenario {name!r}; expected one of {', '.join(available_scenarios())} "
        "or the path of a locustfile (.py)"
    )


def parse_duration(text: str, flag: str = "--duration") -> float:
    """`30s`, `2m`, `1m30s`, `1h` or plain seconds (`45`); must be more than zero."""
    raw = text.strip().lower()
    match = _DURATION.match(raw) if raw else None
    seconds: float | None = None
    if raw and re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    elif match is not None and any(match.groupdict().values()):
        parts = match.groupdict()
        seconds = (int(parts["h"] or 0) * 3600 + int(parts["m"] or 0) * 60
                   + float(parts["s"] or 0))
    if seconds is None or seconds <= 0:
        raise UsageError(f"{flag}: expected a duration like 30s, 2m or 1m30s, got {text!r}")
    return seconds


def parse_count(
    text: str | int, flag: str, minimum: int | None = 1, maximum: int | None = None
) -> int:
    """A whole number within [minimum, maximum] (None: unbounded), named by its flag when not."""
    raw = str(text).strip()
    if maximum is not None:
        accepted = f"a whole number between {minimum} and {maximum}"
    else:
        accepted = f"a whole number >= {minimum}" if minimum is not None else "a whole number"
    value = int(raw) if re.fullmatch(r"[+-]?\d+", raw) else None
    if (value is None or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise UsageError(f"{flag}: expected {accepted}, got {str(text)!r}")
    return value


def parse_seconds(text: str | float, flag: str) -> float:
    """A positive number of seconds (`15`, `2.5`)."""
    return parse_rate(text, flag, what="a positive number of seconds")


def parse_rate(text: str | float, flag: str, what: str = "a positive number") -> float:
    """A positive number (users started per second)."""
    try:
        value = float(str(text).strip())
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"{flag}: expected {what}, got {str(text)!r}")
    return value


# One parser for every command (harness.targets); `Target` is the name the runner knew it by.
Target = TargetSpec


def check_writable(out_dir: Path) -> Path:
    """Create `out_dir` if needed and prove a file can be written there, before any load starts."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".payrace-write-test-"):
            pass
    except OSError as exc:
        raise UsageError(
            f"--out: cannot write reports to {str(out_dir)!r} ({exc.strerror or exc}); "
            "give a writable directory"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(
            f"--out: cannot write reports to {str(out_dir)!r}; give a writable directory")
    return out_dir


@dataclass
class RunSpec:
    """One run, fully validated: everything the runner needs and nothing it must guess."""

    scenario: str
    scenario_path: Path
    target: Target
    users: int
    spawn_rate: float
    duration_s: float
    processes: int = 1
    workers: int = 2
    seed: int = 0
    stripe_url: str | None = None
    database_url: str | None = None
    out_dir: Path = Path("reports")
    junit: Path | None = None
    record: bool = True
    # Fewer charge executions than this and the run is inconclusive (exit 4), never a pass.
    min_charges: int = 20
    # Stop the load once this many payments have been charged (a soak); None: run the duration.
    until_charges: int | None = None
    # Scenario knobs (PAYRACE_* variables) passed to the locustfile, e.g. a stand-in latency.
    scenario_env: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    command: str = ""
    progress: bool = True
    write_report: bool = True
    # Your service: a read-only query on its database (the view without /_admin/snapshot),
    # its supervisor's pid (worker kills), and how long payrace waits for it to settle.
    db_query: str | None = None
    service_pid: int | None = None
    settle_s: float = DEFAULT_SETTLE_S
    # `--adapter path/file.py:Class` (absolute): how every request speaks your service's API.
    adapter: str | None = None
    # The user's own checkers (harness.checkers.user), judged after the built-in ones.
    checkers: tuple[CheckerEntry, ...] = ()

    def reproduce(self) -> str:
        """The command that repeats this run, with the scenario settings it ran with."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.scenario_env.items()))
        if self.command:
            return (env + " " if env else "") + self.command
        args = ["payrace", "run", self.scenario, "--target", self.target.label,
                "--users", str(self.users), "--spawn-rate", f"{self.spawn_rate:g}",
                "--duration", f"{self.duration_s:g}s", "--seed", str(self.seed)]
        if self.processes > 1:
            args += ["--processes", str(self.processes)]
        args += ["--min-charges", str(self.min_charges)]
        if self.until_charges is not None:
            args += ["--until-charges", str(self.until_charges)]
        if self.target.kind == "reference":
            args += ["--workers", str(self.workers)]
        if self.stripe_url:
            args += ["--stripe-url", self.stripe_url]
        if self.db_query:
            args += ["--db-query", self.db_query]
        if self.adapter:
            args += ["--adapter", self.adapter]
        for checker in self.checkers:
            if checker.option:  # an entry point is found again by itself
                args += ["--checker", checker.option]
        return (env + " " if env else "") + shlex.join(args)
