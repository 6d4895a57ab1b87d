"""payrace's pytest plugin: the payment model in your own suite, against your own target.

Fixtures: `payrace_postgres` (a PostgreSQL server), `payrace_standin` (the Stripe
stand-in's URL), `payrace_target` (what to test; override it or pass
`--payrace-target`) and `payrace_model` (runs the model, fails the test with the shrunk
program). Options are prefixed `--payrace-`, each also an ini key `payrace_…` (the command
line wins). Everything heavy is imported inside the fixtures, so a suite that never asks for
them pays nothing but this module; the Hypothesis profiles `payrace-dev`, `payrace-ci` and
`payrace-nightly` are registered by Hypothesis's own entry point, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from harness.nemesis.registry import FAMILY_NAMES

if TYPE_CHECKING:
    from harness.model.environment import Environment
    from harness.model.explore import ExploreResult
    from harness.provision.postgres import Provisioned

PROFILES = ("dev", "ci", "nightly")


@dataclass(frozen=True)
class Option:
    """One setting: `--payrace-<name>` on the command line, `payrace_<name>` in the ini file.

    The command line wins over the ini file, the ini file over the default. `kind` types the
    value in both places; range checks (workers 1-8, …) stay with the model, as in the CLI.
    """

    name: str
    help: str
    default: str | None = None
    kind: type = str
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return f"--payrace-{self.name}"

    @property
    def key(self) -> str:
        return f"payrace_{self.name.replace('-', '_')}"


OPTIONS = (
    Option(
        "target",
        "reference:<variant>, python:package.module:factory (your service object, called as "
        "factory(database_url, stripe_url)) or http://host:port (your service, pointed at the "
        "stand-in)",
    ),
    Option("stripe-url", "a running stand-in (default: start one)"),
    Option(
        "database-url",
        "reference and python: targets: PostgreSQL to use (default: PAYRACE_DATABASE_URL, else "
        "embedded); your HTTP service: its own database (connection kills, --payrace-db-query)",
    ),
    Option("db-query", "your service: read-only SELECT returning id, status, charge_id, amount"),
    Option(
        "settle",
        "seconds each example waits for the target to settle (docs/TARGETS.md)",
        "10",
        float,
    ),
    Option("adapter", "your service's own API: path/to/file.py:ClassName (docs/TARGETS.md)"),
    Option("workers", "simulated worker processes (1-8)", "2", int),
    Option(
        "faults",
        f"all, none, or a comma list of {','.join(FAMILY_NAMES)}",
        "all",
    ),
    Option(
        "profile",
        "Hypothesis settings: dev, ci (derandomized, printed blobs) or nightly",
        "dev",
        choices=PROFILES,
    ),
    Option("max-examples", "override the profile's count", kind=int),
    Option("seed", "seed (default: the profile decides)", kind=int),
)
_SETTINGS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("payrace", "payrace: prove no payment is charged twice")
    for option in OPTIONS:
        default = f" (default: {option.default})" if option.default is not None else ""
        # No default on the command line: None there means "not given", so the ini file counts.
        # A metavar of its own: argparse would print PAYRACE_DATABASE_URL, an env var's name.
        group.addoption(
            option.flag, dest=option.key, type=option.kind, choices=option.choices,
            metavar=None if option.choices else option.name.rsplit("-", 1)[-1].upper(),
            help=f"{option.help}{default}; ini: {option.key}",
        )  # fmt: skip
        # A string in the ini file, typed like the flag in pytest_configure: `int`/`float` ini
        # types need pytest 8.4, and the message should name payrace's key.
        parser.addini(option.key, f"{option.help}{default}", type="string", default=None)
    # Repeatable: a list on both sides, the ini file's and the command line's added together.
    checker_help = "your own checker, module:function (docs/CONTRACTS.md, Checkers)"
    group.addoption(
        "--payrace-checker", action="append", default=[], help=checker_help + "; repeatable"
    )
    parser.addini("payrace_checkers", checker_help + ", one a line", type="linelist")


def _from_ini(option: Option, raw: str) -> Any:
    """An ini value typed like its flag; a bad one stops pytest as a bad flag would."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = option.kind(text)
    except ValueError:
        value = None
    if value is None or (option.choices is not None and value not in option.choices):
        accepted = (", ".join(option.choices) if option.choices
                    else {int: "a whole number", float: "a number"}.get(option.kind, "text"))
        raise pytest.UsageError(
            f"payrace: {option.key} = {raw!r} in the pytest configuration; expected {accepted}"
        )
    return value


def pytest_configure(config: pytest.Config) -> None:
    """Settle every setting once: the command line, else the ini file, else the default."""
    settings: dict[str, Any] = {}
    for option in OPTIONS:
        value = config.getoption(option.key)
        if value is None:
            raw = config.getini(option.key)
            value = _from_ini(option, raw) if raw is not None else None
        if value is None and option.default is not None:
            value = option.kind(option.default)
        settings[option.key] = value
    config.stash[_SETTINGS] = settings


def setting(config: pytest.Config, key: str) -> Any:
    """A payrace setting by its ini key (`payrace_workers`), typed, from wherever it was set."""
    return config.stash[_SETTINGS][key]


def _fail_usage(exc: BaseException) -> None:
    pytest.fail(f"payrace: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def payrace_postgres(pytestconfig: pytest.Config) -> Iterator[Provisioned]:
    """A PostgreSQL server: --payrace-database-url, else Docker or the embedded wheel."""
    from harness.errors import PayraceError
    from harness.provision.postgres import provision_postgres

    try:
        with provision_postgres(
            mode="auto", url=setting(pytestconfig, "payrace_database_url")
        ) as server:
            yield server
    except PayraceError as exc:
        _fail_usage(exc)


@pytest.fixture(scope="session")
def payrace_standin(pytestconfig: pytest.Config) -> Iterator[str]:
    """The stand-in's base URL: --payrace-stripe-url (checked), else one started here."""
    from harness.errors import PayraceError

    url = setting(pytestconfig, "payrace_stripe_url")
    try:
        if url:
            from harness.model.parts import verify_standin

            verify_standin(url)
            yield url.rstrip("/")
            return
        from harness.stripe_standin import running_standin

        with running_standin(seed=0) as started:
            yield started
    except PayraceError as exc:
        _fail_usage(exc)


@pytest.fixture(scope="session")
def payrace_target(pytestconfig: pytest.Config) -> str:
    """What the model attacks; override this fixture or pass --payrace-target."""
    target = setting(pytestconfig, "payrace_target")
    if not target:
        pytest.fail(
            "payrace: name a target with --payrace-target reference:<variant>, "
            "python:package.module:factory or http://host:port, or override the "
            "`payrace_target` fixture",
            pytrace=False,
        )
    return str(target)


@pytest.fixture(scope="session")
def payrace_environment(
    request: pytest.FixtureRequest, payrace_target: str, payrace_standin: str
) -> Iterator[Environment]:
    """The model's environment for the session: one database, one stand-in, W workers."""
    from harness.adapters.load import checked_adapter
    from harness.checkers.user import user_checkers
    from harness.errors import PayraceError
    from harness.model.parts import PartsRequest, open_environment, parse_faults
    from harness.model.targets import parse_target
    from harness.targets.view import validate_db_query

    pytestconfig = request.config
    try:
        spec = parse_target(payrace_target)
        database_url = setting(pytestconfig, "payrace_database_url")
        if spec.provisioned_database and not database_url:
            # Reuse the session's server: a fresh database on it is a fraction of a second.
            database_url = request.getfixturevalue("payrace_postgres").url
        parts_request = PartsRequest(
            target=payrace_target,
            workers=setting(pytestconfig, "payrace_workers"),
            faults=parse_faults(setting(pytestconfig, "payrace_faults")),
            stripe_url=payrace_standin,
            database_url=database_url,
            db_query=validate_db_query(
                setting(pytestconfig, "payrace_db_query"), database_url
            ),
            settle_s=setting(pytestconfig, "payrace_settle"),
            adapter=checked_adapter(setting(pytestconfig, "payrace_adapter"), spec.kind),
            checkers=user_checkers(
                [*pytestconfig.getini("payrace_checkers"),
                 *pytestconfig.getoption("payrace_checker")],
                "--payrace-checker",
            ),
        )
        with open_environment(parts_request) as (env, _parts):
            yield env
    except (PayraceError, ValueError) as exc:
        _fail_usage(exc)


class PayraceModel:
    """Runs PaymentModel against the session's target; a violation fails the calling test."""

    def __init__(self, env: Environment, config: pytest.Config) -> None:
        self.environment = env
        self._config = config

    def run(
        self,
        *,
        max_examples: int | None = None,
        seed: int | None = None,
        steps: int | None = None,
        shrink_seconds: float | None = None,
    ) -> ExploreResult:
        """Explore; return the result when every invariant held, else fail with the program.

        `shrink_seconds` caps Hypothesis's shrinking (payrace's own step deletion follows).
        """
        from harness.hypothesis_profiles import profile
        from harness.model.explore import DEFAULT_STEPS, SHRINK_SECONDS, explore
        from harness.model.program import show_program

        name = str(setting(self._config, "payrace_profile"))
        examples = max_examples or setting(self._config, "payrace_max_examples")
        chosen_seed = seed if seed is not None else setting(self._config, "payrace_seed")
        result = explore(
            self.environment,
            max_examples=examples or profile(name).max_examples,
            seed=chosen_seed,
            steps=steps or DEFAULT_STEPS,
            base_profile=name,
            shrink_seconds=SHRINK_SECONDS if shrink_seconds is None else shrink_seconds,
        )
        if result.verdict == "violation":
            lines = [f"payrace found a violation: {result.reason}"]
            if result.cause is not None:
                lines.append(f"cause ({result.cause.kind}): {result.cause.sentence}")
            lines += ["", "Shrunk program:", show_program(result.program)]
            pytest.fail("\n".join(lines), pytrace=False)
        if result.verdict != "verified":
            pytest.fail(f"payrace: inconclusive: {result.reason}", pytrace=False)
        return result


@pytest.fixture
def payrace_model(payrace_environment: Environment, pytestconfig: pytest.Config) -> Any:
    """`payrace_model.run()` explores the target and fails the test on any violation."""
    return PayraceModel(payrace_environment, pytestconfig)
