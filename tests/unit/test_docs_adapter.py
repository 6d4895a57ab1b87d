"""The adapter docs/TARGETS.md shows is the one examples/flask-orders runs under payrace."""

from __future__ import annotations

import re
from pathlib import Path

from harness.adapters import REQUIRED, load_adapter

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flask-orders" / "payrace_adapter.py"


def _documented_adapter() -> str:
    text = (ROOT / "docs" / "TARGETS.md").read_text()
    section = text.split("## Your API is not this contract: adapters", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the adapters section shows exactly one adapter"
    return str(blocks[0])


def test_the_documented_adapter_is_the_examples_file_word_for_word() -> None:
    assert _documented_adapter() == EXAMPLE.read_text()


def test_the_documented_adapter_loads_and_has_every_method() -> None:
    adapter = load_adapter(f"{EXAMPLE}:OrdersApi")
    assert all(callable(getattr(adapter, name)) for name in REQUIRED)


def test_the_documented_adapter_fits_in_about_thirty_lines_of_code() -> None:
    code = [line for line in _documented_adapter().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", '"""'))]
    assert len(code) <= 36, len(code)
