"""`payrace explore` names the part that is missing: a silent target, a non-stand-in (exit 3)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

pytestmark = pytest.mark.integration


class _NotAStandin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def other_http_server() -> Iterator[str]:
    """A real HTTP server on loopback that is not a stand-in (it answers 404 to everything)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotAStandin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _explore(*args: str, reports: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["explore", *args, "--reports-dir", str(reports)])
    return result.exit_code, result.stderr


def test_an_http_target_that_does_not_answer_is_exit_3_naming_the_target(
    standin_url: str, tmp_path: Path
) -> None:
    """Nothing listens at the target: the message names the target's URL."""
    target = f"http://127.0.0.1:{_free_port()}"
    code, err = _explore("--target", target, "--stripe-url", standin_url, reports=tmp_path)
    assert code == 3, err
    assert f"The target at {target} did not answer" in err
    assert "Traceback" not in err


def test_a_stripe_url_that_is_not_a_standin_is_exit_3_naming_it(
    other_http_server: str, tmp_path: Path
) -> None:
    """An HTTP server that is not a stand-in is refused before anything is driven."""
    code, err = _explore(
        "--target", "http://127.0.0.1:9", "--stripe-url", other_http_server, reports=tmp_path
    )
    assert code == 3, err
    assert f"--stripe-url {other_http_server} is not a payrace stand-in" in err


def test_a_stripe_url_where_nothing_listens_is_exit_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    code, err = _explore("--target", "reference:safe", "--stripe-url", url, reports=tmp_path)
    assert code == 3, err
    assert f"The stand-in at --stripe-url {url} did not answer" in err
    assert list(tmp_path.iterdir()) == []  # no empty run directory is left behind
