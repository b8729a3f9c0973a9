"""Headless Chromium for the web pages' tests, screenshots and benchmark.

Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``; ``.ci/run`` installs them), driven by selenium. The flags
keep the browser from reaching anything beyond the page's server: no sync,
no component updates, no background networking, a fresh profile.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

__all__ = ["BrowserMissing", "chromium", "console_errors", "wait_for"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL = "apt-get install -y chromium chromium-driver"


class BrowserMissing(RuntimeError):
    """Chromium or its driver is not installed."""


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A headless Chromium session with a throwaway profile, quit on exit."""
    browser = _find("chromium", "chromium-browser")
    driver_path = _find("chromedriver")
    if browser is None or driver_path is None:
        raise BrowserMissing(f"headless Chromium is not installed; run: {INSTALL}")
    profile = tempfile.mkdtemp(prefix="runs-web-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: webdriver.Chrome, script: str, timeout_s: float = 20) -> Any:
    """Polls ``return <script>`` until it is truthy; its value, or TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = driver.execute_script("return " + script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{script!r} stayed falsy for {timeout_s:g} s")
        time.sleep(0.02)


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The browser console's errors (and CSP violations) since the last call."""
    return [
        str(entry.get("message"))
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if entry.get("level") in ("SEVERE", "ERROR")
    ]
