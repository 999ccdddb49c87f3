"""Real-browser fixtures: a Streamlit server on a free port and Debian's chromium via Playwright.

Playwright never downloads a browser here: it drives /usr/bin/chromium. Tests skip
(with a message saying why) only when that binary is absent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """``(base_url, data_dir)`` of a fresh app server with its own empty data folder."""
    data = tmp_path / "lab"
    port = _free_port()
    env = {**os.environ, "EXPRESSION_LAB_DATA": str(data), "PLAYWRIGHT_BROWSERS_PATH": "0"}
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    f"streamlit did not start:\n{(tmp_path / 'streamlit.log').read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture()
def browser_page(request):
    """A Playwright page in headless Debian chromium (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); real-browser test skipped")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            # The last screen of every test is kept: it explains a failure without a rerun.
            page.screenshot(path=str(ARTIFACTS / f"last_{request.node.name}.png"), full_page=True)
            context.close()
            browser.close()
