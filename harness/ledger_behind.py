"""The mark a run directory holds while its ledger.jsonl is a copy that may lag the provider.

`payrace explore` against a provider it does not journal (`--stripe-url`) copies the
provider's ledger into the run directory after each step. Killed between two copies, the
history goes further than the ledger: ops whose charges the copy has not seen. The mark says
how many history ops the last copy covers, so `payrace check` judges that prefix — evidence
that agrees with itself — instead of taking charges it cannot see for charges never made.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.jsonl import write_jsonl

LEDGER_BEHIND = "ledger.behind"


def write_mark(run_dir: Path, covered_ops: int) -> None:
    """Say that the ledger copy covers the first `covered_ops` history ops (atomically: a
    kill leaves the old mark or the new one, never half of one)."""
    write_jsonl(run_dir / LEDGER_BEHIND, [{
        "history_ops": covered_ops,
        "why": "ledger.jsonl is a copy read from the provider after each step; the run "
               "stopped before its last copy, so only this many history ops are covered",
    }], atomic=True)


def remove_mark(run_dir: Path) -> None:
    """The run ended, not killed: its ledger copy is whole."""
    (run_dir / LEDGER_BEHIND).unlink(missing_ok=True)


def covered_ops(run_dir: Path) -> int | None:
    """How many history ops the ledger copy covers; None when no mark says it lags. A mark
    that cannot be read covers nothing: it can only make the verdict less sure."""
    path = run_dir / LEDGER_BEHIND
    if not path.is_file():
        return None
    try:
        count = json.loads(path.read_text(encoding="utf-8"))["history_ops"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


def copy_prefix(history: Path, ops: int, dest: Path) -> int:
    """Copy the first `ops` lines of `history` to `dest`; return how many lines were left out."""
    left_out = 0
    with history.open("rb") as src, dest.open("wb") as out:
        for number, line in enumerate(src):
            if number < ops:
                out.write(line)
            else:
                left_out += 1
    return left_out
