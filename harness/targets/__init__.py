"""The target: what `--target` names, what it offers, how payrace settles and reads it."""

from harness.targets.abilities import Abilities, probe_abilities
from harness.targets.spec import ACCEPTED_FORMS, TargetSpec, parse_target

__all__ = ["ACCEPTED_FORMS", "Abilities", "TargetSpec", "parse_target", "probe_abilities"]
