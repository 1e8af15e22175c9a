"""Playwright in headless Chromium (Debian's /usr/bin/chromium), for browser tests.

Use the ``page`` fixture from ``entryway/conftest_browser`` by marking a test ``@pytest.mark.browser``
and requesting ``browser_page`` and ``live_server``. Screenshots go to ``var/screenshots/``.
"""
from __future__ import annotations

import os
import pathlib
import shutil

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOT_DIR = pathlib.Path(__file__).resolve().parents[2] / "var" / "screenshots"

LAUNCH_ARGS = [
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or pathlib.Path(CHROMIUM).exists()


def screenshot(page, name: str) -> pathlib.Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
