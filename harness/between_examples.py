"""The mark a run directory holds while `payrace explore` resets its parts for the next example.

Between two examples explore empties the provider's ledger (the journal its stand-in keeps in
the run directory, or its own copy) and starts the next example's history. Killed halfway, the
directory would hold one example's history beside another's ledger: charges that look never
made, or made with no client asking. While the mark is there `payrace check` judges neither
file and says why; the example before was judged by explore itself, the next had not begun.
"""

from __future__ import annotations

from pathlib import Path

RESETTING = "example.resetting"


def mark_resetting(run_dir: Path) -> None:
    """Say that the history and the ledger may belong to different examples from now on."""
    (run_dir / RESETTING).touch()


def unmark_resetting(run_dir: Path) -> None:
    """The next example's history and ledger are both in place (or explore ended)."""
    (run_dir / RESETTING).unlink(missing_ok=True)


def resetting(run_dir: Path) -> bool:
    """Whether the directory was left mid-reset: its files may not belong together."""
    return (run_dir / RESETTING).exists()


__all__ = ["RESETTING", "mark_resetting", "resetting", "unmark_resetting"]
