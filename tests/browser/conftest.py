"""A real site (daphne on the embedded default) and a real headless Chromium.

The server is a separate process started exactly like `make run` starts it:
memory broker with the worker thread inside the web process, the in-memory
channel layer, local media — only the database is the test database.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import support


def _chromium() -> tuple[str, str]:
    # CHROMIUM_BINARY / CHROMEDRIVER: e.g. on Ubuntu, whose apt chromium is a snap that
    # does not run in containers; any Chromium or Chrome with its matching driver works.
    binary = (
        os.environ.get("CHROMIUM_BINARY")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail(
            "Debian's chromium and chromium-driver are needed (`make test` installs them), "
            "or CHROMIUM_BINARY and CHROMEDRIVER pointing at a browser and its driver"
        )
    return binary, driver


class EmbeddedSite:
    """`make run`'s server, on a free port; it can be killed and started again."""

    def __init__(self, log_dir: Path):
        self.port = support.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.starts = 0
        self.process = None
        self.env = support.process_env(
            REDIS_URL="",
            CELERY_BROKER_URL="",
            CELERY_INPROCESS_WORKER="true",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )

    def start(self) -> None:
        self.starts += 1
        daphne = str(Path(sys.executable).with_name("daphne"))
        self.process = support.start(
            [daphne, "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            self.env,
            self.log_dir / f"site-{self.starts}.log",
        )
        support.wait_for_port(self.port, self.process)

    def kill(self) -> None:
        support.stop(self.process, signal.SIGKILL)

    def log(self) -> str:
        return support.read_log(self.process)


@pytest.fixture
def embedded_site(transactional_db, tiny_model, style_presets, prompt_modifiers, tmp_path):
    site = EmbeddedSite(tmp_path)
    site.start()
    try:
        yield site
    finally:
        support.stop(site.process)


@contextmanager
def _headless_chromium(*, javascript: bool = True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _chromium()
    profile = tempfile.mkdtemp(prefix="likeness-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    if not javascript:
        # The page's own scripts never run (Chromium's content setting, as a person turns
        # JavaScript off); the driver's (execute_script, element checks) still do.
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser():
    with _headless_chromium() as driver:
        yield driver


@pytest.fixture
def browser_without_javascript():
    with _headless_chromium(javascript=False) as driver:
        yield driver
