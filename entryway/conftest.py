"""Browser fixtures: a real headless Chromium driven by Playwright against Django's live server."""
from __future__ import annotations

import os

import pytest

from entryway.testing.browser import CHROMIUM, LAUNCH_ARGS, chromium_available


@pytest.fixture(scope="session")
def _playwright_browser():
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but was not found at {CHROMIUM}")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_playwright_browser):
    """A fresh page at a tablet-and-up viewport."""
    context = _playwright_browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def login_page(browser_page, live_server, password):
    """Log an account in through the real login form; returns the page."""

    def do(account):
        page = browser_page
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(account.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Login").click()
        page.wait_for_load_state("networkidle")
        return page

    return do
