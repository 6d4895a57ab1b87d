"""explore's last look at an HTTP target: one that stopped accepting connections is named."""

from __future__ import annotations

import socket

from harness.model.explore import target_gone
from harness.targets.spec import parse_target


def test_a_listening_target_is_not_gone_and_a_closed_port_is() -> None:
    """A real listener (busy or not, the kernel accepts): not gone. The same port once closed:
    gone, with its URL in the reason."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        assert target_gone(parse_target(url)) == ""
    finally:
        listener.close()
    reason = target_gone(parse_target(url))
    assert reason.startswith("the target stopped answering: nothing accepts connections at "
                             f"{url} any more"), reason


def test_an_in_process_target_is_never_called_gone() -> None:
    """A Python factory lives in payrace's process: its failed creates tell, not a probe."""
    assert target_gone(parse_target("python:tests.services.inprocess_payments:correct")) == ""
