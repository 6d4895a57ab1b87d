"""Loading the plugin costs a suite that does not use it nothing: it imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.hypothesis_profiles import PROFILE_NAMES, profile, register_profiles

PROBE = """
import json, sys
import pytest
before = set(sys.modules)
import harness.pytest_plugin
added = sorted(set(sys.modules) - before)
print(json.dumps({"added": added}))
"""
HEAVY = ("hypothesis", "sqlalchemy", "httpx", "psycopg", "stripe", "rich", "harness.model",
         "reference_impl", "harness.stripe_standin")


def test_importing_the_plugin_is_cheap_and_imports_nothing_heavy() -> None:
    """In a fresh interpreter, importing the plugin loads none of the heavy libraries."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    probe = json.loads(out.stdout)
    heavy = [m for m in probe["added"] if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []


def test_profiles_dev_ci_nightly() -> None:
    """ci is derandomized with printed blobs; none has a deadline; nightly runs the most."""
    dev, ci, nightly = (profile(name) for name in PROFILE_NAMES)
    assert ci.derandomize and ci.print_blob
    assert all(p.deadline is None for p in (dev, ci, nightly))
    assert nightly.max_examples > ci.max_examples >= dev.max_examples
    assert nightly.stateful_step_count > dev.stateful_step_count


def test_profiles_register_with_hypothesis_under_a_prefix() -> None:
    from hypothesis import settings

    register_profiles()
    assert settings.get_profile("payrace-ci").derandomize


HYPOTHESIS_FIRST = """
import json, sys
from hypothesis import settings
print(json.dumps({"ci": settings.get_profile("payrace-ci").derandomize,
                  "heavy": sorted(m for m in sys.modules if m.startswith(("sqlalchemy", "httpx",
                                  "harness.model.machine", "harness.stripe_standin")))}))
"""


def test_installing_payrace_registers_the_profiles_whenever_hypothesis_is_imported() -> None:
    """Hypothesis's entry point registers payrace-ci on `import hypothesis`, and nothing heavy."""
    out = subprocess.run(
        [sys.executable, "-c", HYPOTHESIS_FIRST], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == {"ci": True, "heavy": []}


def test_the_profiles_module_imported_first_still_registers_them() -> None:
    """harness.hypothesis_profiles imported before Hypothesis (which then finds it half-loaded)."""
    probe = ("import harness.hypothesis_profiles\nfrom hypothesis import settings\n"
             "print(settings.get_profile('payrace-nightly').max_examples)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "2000"


def test_the_model_package_exports_functions_not_its_submodules() -> None:
    """`from harness.model import explore` is the function, whatever was imported before it
    (a lazily loaded package would hand out the submodule `harness.model.explore`)."""
    probe = ("import harness.model.explore, harness.model.replay\n"
             "from harness.model import explore, replaying\n"
             "print(callable(explore), explore.__module__, callable(replaying))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["True", "harness.model.explore", "True"]
