"""The nemesis role: fault families (one module each, registered once) and the nemesis."""

from harness.nemesis.family import Detail, Fault, FaultFamily, NemesisContext
from harness.nemesis.nemesis import Nemesis
from harness.nemesis.registry import FAMILIES, FAMILY_NAMES, families, family

__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "Detail",
    "Fault",
    "FaultFamily",
    "Nemesis",
    "NemesisContext",
    "families",
    "family",
]
