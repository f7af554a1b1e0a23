"""`qa serve` in a subprocess on a free loopback port, and headless Debian Chromium through Selenium.

Shared by the browser tests (tests/test_web_browser.py), the screenshots (tools/screenshots.py) and
the web benchmark (benchmarks/web_bench.py). Chromium and its driver are Debian's
(`apt-get install chromium chromium-driver`); Selenium is given both paths, so it never looks for
or downloads a browser. QA_CHROMIUM / QA_CHROMEDRIVER point elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("QA_CHROMEDRIVER", "/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def qa_serve(db: Path, *extra: str, timeout: float = 60.0) -> Iterator[str]:
    """Run `qa serve --db DB` on 127.0.0.1 and a free port; yields its base URL once it answers."""
    port = free_port()
    log = tempfile.TemporaryFile()  # not a pipe: a server that logs much would block on a full pipe
    proc = subprocess.Popen([sys.executable, "-m", "qa_analyser", "serve", "--db", str(db), "--port", str(port),
                             *extra], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base + "/static/app.css", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    log.seek(0)
                    out = log.read().decode(errors="replace")
                    raise RuntimeError(f"qa serve did not start (exit {proc.returncode}): {out}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def chromium(width: int = 1280, height: int = 1000):
    """A headless Chromium WebDriver (quit it when done)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--mute-audio", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
