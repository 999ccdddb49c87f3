"""Real-browser fixtures: a Streamlit server on a free port and Debian's chromium via Playwright.

Playwright never downloads a browser here: it drives /usr/bin/chromium. Tests skip
(with a message saying why) only when that binary is absent.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from classroom import free_port, server_env, streamlit_command, wait_until_healthy

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


_free_port = free_port  # the name other browser tests import


class AppServer:
    """``streamlit run app.py`` on a fixed free port and data folder, which a test may SIGKILL
    and start again (same address, same data), as after a power cut or the OOM killer."""

    def __init__(self, data: Path, logs: Path, prefix: tuple[str, ...] = ()) -> None:
        self.data = data
        self.logs = logs
        self.prefix = prefix  # e.g. ``unshare`` + ``mount``: the server then sees its own data disk
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout_s: float = 60) -> None:
        self.starts += 1
        log_path = self.logs / f"streamlit-{self.starts}.log"
        env = server_env(self.data, PLAYWRIGHT_BROWSERS_PATH="0")
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, *streamlit_command(self.port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until_healthy(self.url, self.proc, log_path, timeout_s)

    @property
    def data_view(self) -> Path:
        """The data folder as the server sees it, also inside its own mount namespace (as root)."""
        assert self.proc is not None
        return Path(f"/proc/{self.proc.pid}/root") / self.data.relative_to("/") if self.prefix else self.data

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly as when the machine loses power."""
        assert self.proc is not None and self.proc.poll() is None, "server is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture()
def app_server(tmp_path) -> Iterator[AppServer]:
    """A started :class:`AppServer` with its own empty data folder (restartable)."""
    server = AppServer(tmp_path / "lab", tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture()
def lab_server(app_server) -> Iterator[tuple[str, Path]]:
    """``(base_url, data_dir)`` of a fresh app server with its own empty data folder."""
    yield app_server.url, app_server.data


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
