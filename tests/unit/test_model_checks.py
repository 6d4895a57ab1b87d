"""harness.model.checks.CheckTally: one result per checker over every explored example."""

from __future__ import annotations

from harness.checkers import CheckResult
from harness.checkers.result import Validity
from harness.model.checks import CheckTally


def result(checker: str, validity: Validity, summary: str = "") -> CheckResult:
    return CheckResult(checker, validity, "error", summary or validity, [], {})


def test_valid_where_judged_says_how_many_examples_it_could_not_judge() -> None:
    tally = CheckTally()
    validities: tuple[Validity, ...] = ("valid", "unknown", "valid")
    for validity in validities:
        tally.add([result("mine", validity)])
    [mine] = tally.results()
    assert mine.validity == "valid"
    assert mine.summary == "held in all 2 examples it judged (1 it could not judge)"
    assert mine.stats["examples"] == 3 and mine.stats["unknown"] == 1


def test_never_judged_is_unknown_and_any_invalid_example_makes_it_invalid() -> None:
    tally = CheckTally()
    tally.add([result("blind", "unknown", "no db view"), result("strict", "valid")])
    tally.add([result("blind", "unknown"), result("strict", "invalid", "charged twice")])
    by_name = {r.checker: r for r in tally.results()}
    assert by_name["blind"].validity == "unknown" and by_name["blind"].summary == "no db view"
    assert by_name["strict"].validity == "invalid"
    assert by_name["strict"].summary == "invalid in 1 of 2 examples; first: charged twice"


def test_all_valid_says_so_without_a_remark() -> None:
    tally = CheckTally()
    tally.add([result("mine", "valid")])
    assert tally.results()[0].summary == "held in all 1 example it judged"
