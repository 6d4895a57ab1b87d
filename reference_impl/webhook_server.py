"""The webhook route of an in-process reference target: a loopback HTTP server, one thread each."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reference_impl.responses import Reply
from reference_impl.webhooks import WEBHOOK_PATH

Handle = Callable[[bytes, "str | None"], Reply]


class WebhookServer:
    """Serves `POST /webhooks/stripe` on 127.0.0.1 for a variant that runs inside payrace.

    The stand-in delivers webhooks over HTTP, whatever runs the service, so an in-process
    target still needs a real receiver; `handle` verifies and acts as the app's route does.
    """

    def __init__(self, handle: Handle) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                if self.path != WEBHOOK_PATH:
                    status, body = 404, {"error": {"code": "not_found", "message": self.path}}
                else:
                    try:
                        status, body = handle(payload, self.headers.get("Stripe-Signature"))
                    except Exception as exc:  # a crash failpoint, a bug: a 500, retried
                        status, body = 500, {"error": {"code": "internal_error",
                                                       "message": f"{type(exc).__name__}: {exc}"}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the stand-in's ledger records every delivery and its answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="payrace-webhooks", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{WEBHOOK_PATH}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
