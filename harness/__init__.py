"""payrace: proves from the evidence that no payment is ever charged twice."""

__version__ = "0.1.0"

__all__ = ["__version__"]
