"""History files from several load processes: where each one writes, and merging them into one."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from harness.history import load_history, merge_histories
from harness.jsonl import write_jsonl

PART_MARK = ".part-"


def part_path(history_path: str | Path, pid: int | None = None) -> Path:
    """The file one load process writes when several share a history (`<path>.part-<host>-<pid>`).

    The host name keeps parts from Locust workers on different machines apart once they are
    copied next to each other; the pid keeps forked `--processes` workers apart.
    """
    host = socket.gethostname().replace(os.sep, "_") or "host"
    return Path(f"{history_path}{PART_MARK}{host}-{os.getpid() if pid is None else pid}")


def part_paths(history_path: str | Path) -> list[Path]:
    """Every part file waiting to be merged into `history_path`, in name order."""
    path = Path(history_path)
    if not path.parent.is_dir():
        return []
    prefix = path.name + PART_MARK
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.is_file())


def merge_parts(history_path: str | Path) -> int:
    """Merge the part files (and any existing history) into `history_path`; returns the op count.

    Ops are ordered by time on one shared origin and re-indexed from 0; the parts are removed
    afterwards, so merging twice is harmless. With no parts this leaves the file untouched.
    """
    return merge_parts_counting(history_path)[0]


def merge_parts_counting(history_path: str | Path) -> tuple[int, int]:
    """merge_parts, also saying how many torn lines (a process killed mid-write) it left out."""
    path = Path(history_path)
    parts = part_paths(path)
    if not parts:
        if not path.is_file():
            return 0, 0
        history = load_history(path)
        return len(history), history.torn_lines
    histories = [load_history(p) for p in ([path] if path.is_file() else []) + parts]
    merged = merge_histories(histories)
    write_jsonl(path, merged, atomic=True)
    for p in parts:
        p.unlink(missing_ok=True)
    return len(merged), sum(h.torn_lines for h in histories)


def main(argv: list[str]) -> int:
    """`python -m harness.runner.parts HISTORY`: merge worker parts copied next to HISTORY."""
    if len(argv) != 1:
        print("usage: python -m harness.runner.parts HISTORY.jsonl", file=sys.stderr)
        return 2
    count = merge_parts(argv[0])
    print(f"{argv[0]}: {count} ops")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
