"""payrace's pytest plugin: the payment model in your own suite, against your own target.

Fixtures: `payrace_postgres` (a PostgreSQL server), `payrace_standin` (the Stripe
stand-in's URL), `payrace_target` (what to test; override it or pass
`--payrace-target`) and `payrace_model` (runs the model, fails the test with the shrunk
program). Options are prefixed `--payrace-`. Everything heavy is imported inside the
fixtures, so a suite that never asks for them pays nothing but this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.model.environment import Environment
    from harness.model.explore import ExploreResult
    from harness.provision.postgres import Provisioned

PROFILES = ("dev", "ci", "nightly")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("payrace", "payrace: prove no payment is charged twice")
    group.addoption(
        "--payrace-target",
        default=None,
        help="reference:<variant>, python:package.module:factory (your service object, "
        "called as factory(database_url, stripe_url)) or http://host:port (your service, "
        "pointed at the stand-in)",
    )
    group.addoption(
        "--payrace-stripe-url", default=None, help="a running stand-in (default: start one)"
    )
    group.addoption(
        "--payrace-database-url",
        default=None,
        help="reference and python: targets: PostgreSQL to use (default: embedded); your HTTP "
        "service: its own database (connection kills, --payrace-db-query)",
    )
    group.addoption(
        "--payrace-db-query",
        default=None,
        help="your service: read-only SELECT returning id, status, charge_id, amount",
    )
    group.addoption(
        "--payrace-settle",
        default="10",
        help="seconds each example waits for the target to settle (docs/TARGETS.md)",
    )
    group.addoption(
        "--payrace-adapter",
        default=None,
        help="your service's own API: path/to/file.py:ClassName (docs/TARGETS.md)",
    )
    group.addoption("--payrace-workers", default="2", help="simulated worker processes (1-8)")
    group.addoption(
        "--payrace-faults",
        default="all",
        help="all, none, or a comma list of provider,failpoints,database,clock,workers,webhooks",
    )
    group.addoption(
        "--payrace-profile",
        default="dev",
        choices=PROFILES,
        help="Hypothesis settings: dev, ci (derandomized, printed blobs) or nightly",
    )
    group.addoption("--payrace-max-examples", default=None, help="override the profile's count")
    group.addoption("--payrace-seed", default=None, help="seed (default: the profile decides)")
    checker_help = "your own checker, module:function (docs/CONTRACTS.md, Checkers)"
    group.addoption(
        "--payrace-checker", action="append", default=[], help=checker_help + "; repeatable"
    )
    parser.addini("payrace_checkers", checker_help + ", one a line", type="linelist")


def _fail_usage(exc: BaseException) -> None:
    pytest.fail(f"payrace: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def payrace_postgres(pytestconfig: pytest.Config) -> Iterator[Provisioned]:
    """A PostgreSQL server: --payrace-database-url, else Docker or the embedded wheel."""
    from harness.errors import PayraceError
    from harness.provision.postgres import provision_postgres

    try:
        with provision_postgres(
            mode="auto", url=pytestconfig.getoption("payrace_database_url")
        ) as server:
            yield server
    except PayraceError as exc:
        _fail_usage(exc)


@pytest.fixture(scope="session")
def payrace_standin(pytestconfig: pytest.Config) -> Iterator[str]:
    """The stand-in's base URL: --payrace-stripe-url (checked), else one started here."""
    from harness.errors import PayraceError

    url = pytestconfig.getoption("payrace_stripe_url")
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
    target = pytestconfig.getoption("payrace_target")
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
        database_url = pytestconfig.getoption("payrace_database_url")
        if spec.provisioned_database and not database_url:
            # Reuse the session's server: a fresh database on it is a fraction of a second.
            database_url = request.getfixturevalue("payrace_postgres").url
        parts_request = PartsRequest(
            target=payrace_target,
            workers=int(pytestconfig.getoption("payrace_workers")),
            faults=parse_faults(pytestconfig.getoption("payrace_faults")),
            stripe_url=payrace_standin,
            database_url=database_url,
            db_query=validate_db_query(
                pytestconfig.getoption("payrace_db_query"), database_url
            ),
            settle_s=float(pytestconfig.getoption("payrace_settle")),
            adapter=checked_adapter(pytestconfig.getoption("payrace_adapter"), spec.kind),
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
        from harness.model.explore import DEFAULT_STEPS, SHRINK_SECONDS, explore
        from harness.model.profiles import profile
        from harness.model.program import show_program

        name = str(self._config.getoption("payrace_profile"))
        option_examples = self._config.getoption("payrace_max_examples")
        option_seed = self._config.getoption("payrace_seed")
        examples = max_examples or (int(option_examples) if option_examples else None)
        chosen_seed = seed if seed is not None else (int(option_seed) if option_seed else None)
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
