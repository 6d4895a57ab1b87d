"""A real webhook receiver for tests: an http.server on loopback that records what arrives."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    """One POST as the receiver saw it."""

    body: bytes
    headers: dict[str, str]
    status: int  # what the receiver answered
    at: float  # when it was answered
    arrived: float = 0.0  # when it came in (monotonic)


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (200 once the script runs out)."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)  # seconds to sit on each answer, in turn
    got: list[Delivery] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Delivery]:
        """The first `n` deliveries (fails the test if they do not come in time)."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.got) >= n, timeout):
                raise AssertionError(f"expected {n} webhook deliveries, got {len(self.got)}")
            return list(self.got[:n])

    def answered_ok(self) -> list[Delivery]:
        with self.cond:
            return [d for d in self.got if 200 <= d.status < 300]


@contextmanager
def running_receiver(
    script: list[int] | None = None, delays: list[float] | None = None
) -> Iterator[Receiver]:
    """A receiver on a free loopback port, stopped afterwards."""
    receiver = Receiver(script=list(script or []), delays=list(delays or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.cond:
                status = receiver.script.pop(0) if receiver.script else 200
                delay = receiver.delays.pop(0) if receiver.delays else 0.0
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            # The stand-in may have given up waiting (a timeout test): still recorded.
            with contextlib.suppress(OSError):
                self.end_headers()
            with receiver.cond:
                receiver.got.append(Delivery(body, dict(self.headers.items()), status,
                                             time.monotonic(), arrived))
                receiver.cond.notify_all()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
