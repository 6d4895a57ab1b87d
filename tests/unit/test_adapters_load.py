"""load_adapter / checked_adapter: every mistake in --adapter is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.adapters import ContractAdapter, load_adapter
from harness.adapters.load import checked_adapter
from harness.errors import EXIT_USAGE, UsageError

GOOD = '''
from harness.adapters import Request, ok

class Orders:
    def create(self, amount, currency, customer):
        return Request("POST", "/orders", json={"amount": amount})
    def created(self, answer):
        return ok({"id": answer.body["uuid"]})
    def charge(self, payment_id, key):
        return Request("POST", f"/orders/{payment_id}/pay")
    def charged(self, answer):
        return ok()
    def read(self, payment_id):
        return Request("GET", f"/orders/{payment_id}")
    def payment(self, answer):
        return ok(answer.body)
'''


def _file(tmp_path: Path, text: str, name: str = "adapter.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _usage(spec: str) -> str:
    with pytest.raises(UsageError) as caught:
        load_adapter(spec)
    assert caught.value.exit_code == EXIT_USAGE
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_adapter_is_the_contract() -> None:
    assert isinstance(load_adapter(None), ContractAdapter)
    assert isinstance(load_adapter(""), ContractAdapter)


def test_a_good_adapter_loads_as_an_instance(tmp_path: Path) -> None:
    adapter = load_adapter(f"{_file(tmp_path, GOOD)}:Orders")
    assert type(adapter).__name__ == "Orders"
    assert adapter.read("p1").path == "/orders/p1"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    message = _usage(f"{tmp_path}/nowhere.py:Orders")
    assert "nowhere.py does not exist" in message and "file.py:ClassName" in message


def test_the_form_without_a_class_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD)
    assert "expected path/to/file.py:ClassName" in _usage(str(path))
    assert "not a .py file" in _usage(f"{tmp_path}/adapter.txt:Orders")


def test_a_file_that_does_not_import_names_its_error(tmp_path: Path) -> None:
    path = _file(tmp_path, "import no_such_module_here\n", "broken.py")
    message = _usage(f"{path}:Orders")
    assert "broken.py does not import" in message and "no_such_module_here" in message


def test_a_missing_class_lists_the_classes_there(tmp_path: Path) -> None:
    message = _usage(f"{_file(tmp_path, GOOD)}:Payments")
    assert "has no 'Payments'" in message and "Orders" in message


def test_missing_methods_are_named(tmp_path: Path) -> None:
    text = GOOD.replace("    def payment(self, answer):\n        return ok(answer.body)\n", "")
    text = text.replace("def charged(", "def charged_(")
    message = _usage(f"{_file(tmp_path, text)}:Orders")
    assert "lacks charged, payment" in message


def test_a_constructor_that_raises_is_named(tmp_path: Path) -> None:
    bad = "\nclass Bad(Orders):\n    def __init__(self):\n        raise RuntimeError('no')\n"
    text = GOOD + bad
    assert "Bad() failed: RuntimeError: no" in _usage(f"{_file(tmp_path, text)}:Bad")


def test_checked_adapter_makes_the_path_absolute_and_refuses_reference_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _file(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    assert checked_adapter("adapter.py:Orders", "http") == f"{tmp_path.resolve()}/adapter.py:Orders"
    assert checked_adapter(None, "reference") is None
    with pytest.raises(UsageError, match="applies to your own service"):
        checked_adapter("adapter.py:Orders", "reference")
