"""Loading `python:module:factory` and checking what it builds: exit 2 for names, 3 for parts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import EXIT_PROVISION, EXIT_USAGE, PayraceError
from harness.targets.python_factory import build_service, load_factory


@pytest.fixture()
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path with a few one-file modules."""
    (tmp_path / "pr_ok.py").write_text(
        "class S:\n"
        "    def create_payment(self, a, c, u): return {'id': 'p'}\n"
        "    def charge(self, p, k): return 200, {}\n"
        "    def get_payment(self, p): return None\n"
        "def make(db, stripe): return S()\n"
        "def boom(db, stripe): raise ValueError('no config at ' + db)\n"
        "def half(db, stripe): return object()\n"
        "NOT_CALLABLE = 3\n"
    )
    (tmp_path / "pr_broken.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "pr_raises.py").write_text("raise RuntimeError('import-time failure')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("pr_ok", "pr_broken", "pr_raises"):
        sys.modules.pop(name, None)


def _error(value: str) -> PayraceError:
    with pytest.raises(PayraceError) as caught:
        load_factory(value)
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_factory_loads_and_builds_a_service(modules: Path) -> None:
    service = build_service(load_factory("pr_ok:make"), "python:pr_ok:make", "db", "stripe")
    assert service.charge("p", None) == (200, {})


@pytest.mark.parametrize(("value", "code", "said"), [
    ("pr_absent:make", EXIT_USAGE, "no module named 'pr_absent'"),
    ("pr_ok.sub:make", EXIT_USAGE, "no module named 'pr_ok.sub'"),
    ("pr_ok:nothing", EXIT_USAGE, "module 'pr_ok' has no attribute 'nothing'"),
    ("pr_ok:NOT_CALLABLE", EXIT_USAGE, "pr_ok.NOT_CALLABLE is not callable"),
    ("pr_broken:make", EXIT_PROVISION, "importing pr_broken failed: No module named"),
    ("pr_raises:make", EXIT_PROVISION, "RuntimeError: import-time failure"),
])
def test_names_that_do_not_exist_are_exit_2_broken_modules_exit_3(
    modules: Path, value: str, code: int, said: str
) -> None:
    error = _error(value)
    assert error.exit_code == code
    assert said in str(error)
    assert str(error).startswith(f"--target python:{value}: ")


@pytest.mark.parametrize(("factory", "said"), [
    ("boom", "the factory raised ValueError: no config at db"),
    ("half", "the factory returned a object without create_payment, charge, get_payment"),
])
def test_a_factory_that_raises_or_builds_too_little_is_exit_3(
    modules: Path, factory: str, said: str
) -> None:
    with pytest.raises(PayraceError) as caught:
        build_service(load_factory(f"pr_ok:{factory}"), f"python:pr_ok:{factory}", "db", "s")
    assert caught.value.exit_code == EXIT_PROVISION
    assert said in str(caught.value)
