"""Stop and start a PostgreSQL server payrace started itself: a database outage, mid-load."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ProvisionError

STOP_TIMEOUT_S = 30
# Set by `payrace run` for a load process's nemesis, only for a server payrace started.
ENV_POSTGRES_CONTROL = "PAYRACE_POSTGRES_CONTROL"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class PgControl:
    """`pg_ctl` and the data directory of a server payrace owns (never one it was given)."""

    pg_ctl: Path
    pgdata: Path

    def to_text(self) -> str:
        """One string for an environment variable (a Locust process's nemesis reads it)."""
        return json.dumps([str(self.pg_ctl), str(self.pgdata)])

    @classmethod
    def from_text(cls, text: str | None) -> PgControl | None:
        if not text or not text.strip():
            return None
        try:
            pg_ctl, pgdata = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise ProvisionError(
                f"Cannot read the PostgreSQL control {text!r} ({exc}); expected "
                '["/path/to/pg_ctl", "/path/to/data"]'
            ) from None
        return cls(Path(pg_ctl), Path(pgdata))

    def running(self) -> bool:
        """The postmaster of this data directory is up (pg_ctl status)."""
        return self._pg_ctl("status", check=False).returncode == 0

    def restart(self, down_s: float, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """Stop the server (fast: sessions are cut, as in a crash of the primary), stay down
        `down_s`, start it again with the options it had; return what happened, timed."""
        options = self._options()
        started = time.monotonic()
        self._pg_ctl("stop", "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S))
        stopped = time.monotonic()
        sleep(down_s)
        self._start(options)
        now = time.monotonic()
        return {"stop_s": round(stopped - started, 3), "down_s": round(now - stopped, 3)}

    def stop_now(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Stop the server at once (immediate: no checkpoint, the data is thrown away next);
        True when pg_ctl says it stopped."""
        done = self._pg_ctl("stop", "-m", "immediate", "-w", "-t", str(int(timeout_s)),
                            check=False)
        return done.returncode == 0

    def ensure_running(self) -> bool:
        """Start the server if an interrupted restart left it down; True when it was."""
        if self.running():
            return False
        self._start(self._options())
        return True

    def _options(self) -> str:
        # postmaster.opts holds the command line the server was started with (socket dir, no
        # TCP): started with the same options, it is the same server at the same address.
        try:
            words = shlex.split((self.pgdata / "postmaster.opts").read_text())
        except OSError as exc:
            raise ProvisionError(f"Cannot read {self.pgdata}/postmaster.opts: {exc}") from None
        options: list[str] = []
        rest = iter(words[1:])  # the postgres binary first
        for word in rest:
            if word == "-D":
                next(rest, None)
                continue
            options.append(word)
        return shlex.join(options)

    def _start(self, options: str) -> None:
        self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_S), "-o", options,
                     "-l", str(self.pgdata / "restart.log"))

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # pg_ctl refuses to run as root; as root the server runs as its data dir's owner.
        user = self.pgdata.stat().st_uid if os.geteuid() == 0 else None
        done = subprocess.run([str(self.pg_ctl), "-D", str(self.pgdata), *args],
                              capture_output=True, text=True, user=user, check=False)
        if check and done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise ProvisionError(
                f"pg_ctl {args[0]} failed for {self.pgdata} (exit {done.returncode}): "
                f"{why[-1] if why else 'no output'}"
            )
        return done


__all__ = ["ENV_POSTGRES_CONTROL", "PgControl"]
