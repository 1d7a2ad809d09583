"""Open pages in real headless Chromium and report what a person would see, for the html report's tests.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages ending
in NUL on its file descriptors 3 and 4), with the standard library only. That gives what a screenshot or
`--dump-dom` cannot: console errors and uncaught exceptions with their level, every request the page
made (an offline page makes none beyond its own file), JavaScript run against the live DOM after the
plots were drawn, and a full-page screenshot.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# As env/machines/python.md runs Chromium here: root needs --no-sandbox; the background-networking flags
# keep it from calling home on a closed network. SwiftShader is the software WebGL that draws parallel
# coordinates on a machine without a GPU (Chromium no longer falls back to it on its own).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--hide-scrollbars",
         "--remote-debugging-pipe"]
WIDTH, HEIGHT = 1280, 900


def chromium() -> str:
    """The browser: $AUTOTUNE_CHROMIUM, else chromium on PATH (tests/setup_browser.sh installs it)."""
    found = os.environ.get("AUTOTUNE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("no Chromium: run `bash tests/setup_browser.sh` (Debian's chromium package), "
                           "or set AUTOTUNE_CHROMIUM to a Chromium binary")
    return found


@dataclass
class PageResult:
    errors: list[str] = field(default_factory=list)      # console errors, uncaught exceptions, failed loads
    requests: list[str] = field(default_factory=list)    # every URL the page asked for
    probe: object = None                                  # what the probe expression returned


class Browser:
    """One headless Chromium for several pages, each in its own tab; a context manager."""

    def __init__(self):
        self._profile = tempfile.TemporaryDirectory(prefix="autotune-chromium-")
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def wire():  # in the child: fd 3 reads our commands, fd 4 writes back (dup2 leaves them inheritable)
            high_r = fcntl.fcntl(to_chrome, fcntl.F_DUPFD_CLOEXEC, 10)  # out of the way of 3 and 4 first
            high_w = fcntl.fcntl(from_chrome, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={self._profile.name}",
                                      f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=wire, close_fds=False)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)
        self._profile.cleanup()

    def open_page(self, path: Path, probe: str, ready: str, screenshot: Path | None = None,
                  timeout: float = 60) -> PageResult:
        """Load `path` in a new tab, wait until the JavaScript expression `ready` is true, save a full-page
        PNG to `screenshot`, evaluate `probe` (returned by value), and close the tab."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        try:
            for domain in ("Runtime", "Log", "Page", "Network"):
                self.call(f"{domain}.enable", session)
            self.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=HEIGHT,
                      deviceScaleFactor=1, mobile=False)
            self.call("Page.navigate", session, url=path.resolve().as_uri())
            self._wait_event("Page.loadEventFired", session, timeout)
            deadline = time.monotonic() + timeout
            while not self._evaluate(session, ready):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the page never became ready ({ready})")
                time.sleep(0.2)
            if screenshot is not None:
                size = self.call("Page.getLayoutMetrics", session)["cssContentSize"]
                shot = self.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                                 clip={"x": 0, "y": 0, "width": WIDTH, "height": size["height"], "scale": 1})
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            probed = self._evaluate(session, probe)
            self._evaluate(session, "0")  # flush events still on their way
        finally:
            self.call("Target.closeTarget", targetId=target)
        errors, requests = _collect(e for e in self.events if e.get("sessionId") == session)
        return PageResult(errors, requests, probed)

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _evaluate(self, session: str, expression: str):
        reply = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def _wait_event(self, method: str, session: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self._read(deadline))

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.proc.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(line)


def _collect(events) -> tuple[list[str], list[str]]:
    """(errors, requested URLs) from one page's DevTools events."""
    errors, requests = [], []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append("uncaught: " + (details.get("exception", {}).get("description") or details.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                         for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        elif method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText')}")
    return errors, requests
