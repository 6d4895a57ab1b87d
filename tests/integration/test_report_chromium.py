"""The report in a real headless Chromium: loads without console errors or network, shows the
verdict and the double charge's timeline, and leaves screenshots in test-artifacts/."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client: speaks the DevTools protocol to the browser

from harness.report import write_comparison, write_report, write_reports_index
from tests.sample_runs import write_sample_run

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-port=0", "--window-size=1280,900"]


class DevTools:
    """A minimal DevTools-protocol session on one page: commands, and the events seen so far."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"Chromium sent no {method} within {timeout_s} s")
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, browser log errors and failed loads."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(f"console: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
            elif method == "Network.loadingFailed":
                out.append(f"load failed: {params.get('errorText')}")
        return out

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, clip: dict[str, float] | None = None) -> None:
        if clip is None:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={**clip, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))

    def open(self, url: str) -> None:
        self.events.clear()
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[DevTools]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium "
                    "(apt-get install -y chromium); the report's browser test needs it")
    profile = Path(tempfile.mkdtemp(prefix="payrace-chromium-"))
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not open its DevTools port (exit {proc.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        session = DevTools(pages[0]["webSocketDebuggerUrl"])
        yield session
        session.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A reports directory with a pr145 run, a safe run and the demo page, over loopback HTTP."""
    root = tmp_path_factory.mktemp("reports")
    pr145 = write_sample_run(root / "run-pr145", "pr145")
    safe = write_sample_run(root / "run-safe", "safe")
    write_report(pr145)
    write_report(safe)
    write_comparison(root / "demo", [pr145, safe], "PR #145 against safe")
    write_reports_index(root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _only_local(urls: list[str], base: str) -> list[str]:
    return [u for u in urls if not (u.startswith(base) or u.startswith("data:"))]


def test_a_failing_runs_page_loads_cleanly_and_shows_the_double_charge(
    chromium: DevTools, served: tuple[str, Path]
) -> None:
    base, _ = served
    chromium.open(f"{base}/run-pr145/index.html")
    assert chromium.errors() == []
    assert _only_local(chromium.requested_urls(), base) == []
    assert chromium.evaluate("document.querySelector('.banner .verdict').textContent") == \
        "violation"
    banner = chromium.evaluate(
        "getComputedStyle(document.querySelector('.banner')).backgroundColor")
    assert banner == "rgb(180, 35, 24)"  # the red of a violation
    timeline = chromium.evaluate("""(() => {
        const svg = document.querySelector('svg.timeline');
        const box = svg.getBoundingClientRect();
        const texts = [...svg.querySelectorAll('text')];
        const second = texts.find(t => t.textContent.startsWith('2nd charge'));
        return {width: box.width, height: box.height, top: box.top + scrollY,
                lanes: texts.map(t => t.textContent),
                secondFill: second && second.getAttribute('fill'),
                secondVisible: second && second.getBoundingClientRect().width > 0};
    })()""")
    assert timeline["width"] > 900 and timeline["height"] > 250
    for lane in ("client w0", "client w1", "provider (stand-in)", "payment status"):
        assert lane in timeline["lanes"]
    assert "charge #1 · info: timeout" in timeline["lanes"]
    assert timeline["secondFill"] == "#d62728" and timeline["secondVisible"]
    ARTIFACTS.mkdir(exist_ok=True)
    chromium.screenshot(ARTIFACTS / "report_pr145.png")
    chromium.screenshot(ARTIFACTS / "report_pr145_timeline.png", clip={
        "x": 0, "y": timeline["top"] - 120, "width": 1280, "height": timeline["height"] + 220})
    assert (ARTIFACTS / "report_pr145.png").stat().st_size > 50_000


def test_the_runs_list_and_the_demo_page_load_cleanly(
    chromium: DevTools, served: tuple[str, Path]
) -> None:
    base, _ = served
    chromium.open(f"{base}/index.html")
    assert chromium.errors() == []
    verdicts = chromium.evaluate(
        "[...document.querySelectorAll('table.runs .badge')].map(b => b.textContent)")
    assert sorted(verdicts) == ["verified", "violation"]
    chromium.open(f"{base}/demo/index.html")
    assert chromium.errors() == []
    assert _only_local(chromium.requested_urls(), base) == []
    assert chromium.evaluate("document.querySelectorAll('svg.timeline').length") == 1
    ARTIFACTS.mkdir(exist_ok=True)
    chromium.screenshot(ARTIFACTS / "report_demo.png")


def test_the_error_watch_catches_a_console_error_and_a_missing_resource(
    chromium: DevTools, served: tuple[str, Path]
) -> None:
    """The checks above can fail: a page that logs an error and loads a missing file is caught."""
    base, root = served
    (root / "broken.html").write_text(
        '<!doctype html><link rel="icon" href="data:,"><img src="missing.png">'
        "<script>console.error('boom')</script>")
    chromium.open(f"{base}/broken.html")
    errors = chromium.errors()
    assert any("boom" in e for e in errors), errors
    assert any("404" in e for e in errors), errors


def test_the_page_reads_offline_from_a_file_url(
    chromium: DevTools, served: tuple[str, Path]
) -> None:
    _, root = served
    chromium.open((root / "run-pr145" / "index.html").as_uri())
    assert chromium.errors() == []
    assert [u for u in chromium.requested_urls() if not u.startswith(("file:", "data:"))] == []
    assert chromium.evaluate("document.querySelectorAll('svg.chart').length") == 2
