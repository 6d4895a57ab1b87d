"""The pytest plugin puts the payment model in a user's own suite, against their own target."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.provision.postgres import Provisioned

pytest_plugins = ("pytester",)
pytestmark = pytest.mark.integration


def _parts(server: Provisioned, standin_url: str) -> list[str]:
    # Reuse this session's server and stand-in: the inner suite then starts in a blink.
    return [
        "--payrace-database-url", server.url,
        "--payrace-stripe-url", standin_url,
        "-p", "no:cacheprovider",
    ]


def test_a_flawed_target_fails_the_users_test_with_the_shrunk_program(
    pytester: pytest.Pytester, postgres_server: Provisioned, standin_url: str
) -> None:
    """`payrace_model.run()` against naive fails the test, printing the violation and program."""
    pytester.makepyfile(
        """
        def test_never_charges_twice(payrace_model):
            payrace_model.run(max_examples=60, seed=1)
        """
    )
    result = pytester.runpytest_subprocess(
        "--payrace-target", "reference:naive", "--payrace-faults", "none",
        *_parts(postgres_server, standin_url),
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*payrace found a violation: no-duplicate-charge*",
            "*Shrunk program:*",
            "*state.charge(*",
        ]
    )


def test_an_overridden_target_fixture_and_the_ci_profile_pass_on_safe(
    pytester: pytest.Pytester, postgres_server: Provisioned, standin_url: str
) -> None:
    """A suite may name its target in a fixture; the derandomized ci profile runs it."""
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def payrace_target():
            return "reference:safe"
        """
    )
    pytester.makepyfile(
        """
        def test_never_charges_twice(payrace_model):
            result = payrace_model.run(max_examples=15)
            assert result.verdict == "verified"
        """
    )
    result = pytester.runpytest_subprocess(
        "--payrace-profile", "ci", *_parts(postgres_server, standin_url)
    )
    result.assert_outcomes(passed=1)


PYTHON_TARGET = "python:tests.services.inprocess_payments"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("factory", "outcome"), [("flawed", "failed"), ("correct", "passed")])
def test_a_python_factory_target_is_judged_in_the_users_suite(
    factory: str, outcome: str, pytester: pytest.Pytester, postgres_server: Provisioned,
    standin_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`--payrace-target python:…:flawed` fails the test with the program; `:correct` passes."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the inner suite imports tests.services
    pytester.makepyfile(
        """
        def test_never_charges_twice(payrace_model):
            result = payrace_model.run(max_examples=20, seed=1, shrink_seconds=2)
            assert result.verdict == "verified"
        """
    )
    result = pytester.runpytest_subprocess(
        "--payrace-target", f"{PYTHON_TARGET}:{factory}", "--payrace-faults", "provider",
        *_parts(postgres_server, standin_url),
    )
    result.assert_outcomes(**{outcome: 1})
    if outcome == "failed":
        result.stdout.fnmatch_lines(
            ["*payrace found a violation: no-duplicate-charge*", "*state.charge(*"]
        )


def test_the_users_checkers_from_the_ini_and_the_option_judge_every_example(
    pytester: pytest.Pytester, postgres_server: Provisioned, standin_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`payrace_checkers` in the ini and `--payrace-checker`: both judge the examples, after
    the built-in checkers, and the result lists them."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the inner suite imports tests.own_checkers
    pytester.makeini("[pytest]\npayrace_checkers =\n    tests.own_checkers:check_charge_cap\n")
    pytester.makepyfile(
        """
        def test_own_checkers(payrace_model):
            result = payrace_model.run(max_examples=3, seed=1)
            mine = {c.checker: c.validity for c in result.checks}
            assert list(mine)[-3:] == ["charge-cap", "penny-cap", "enough-work"], mine
            assert mine["charge-cap"] == "valid" and mine["penny-cap"] == "invalid"
        """
    )
    # penny-cap is a warning here, so it is reported but the run still verifies.
    pytester.makepyfile(
        penny="""
        from tests.own_checkers import check_penny_cap

        check_penny_cap.severity = "warning"
        """
    )
    result = pytester.runpytest_subprocess(
        "--payrace-target", "reference:safe", "--payrace-faults", "none",
        "--payrace-checker", "penny:check_penny_cap", *_parts(postgres_server, standin_url),
    )
    result.assert_outcomes(passed=1)


def test_a_bad_checker_fails_the_test_with_one_line(
    pytester: pytest.Pytester, standin_url: str
) -> None:
    pytester.makepyfile(
        """
        def test_model(payrace_model):
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "--payrace-target", "reference:safe", "--payrace-stripe-url", standin_url,
        "--payrace-checker", "no_such_pkg_q:check", "-p", "no:cacheprovider",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*payrace: --payrace-checker no_such_pkg_q:check: no module named 'no_such_pkg_q'*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_no_target_is_a_clear_failure_not_a_crash(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_model(payrace_target):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*name a target with --payrace-target*"])
