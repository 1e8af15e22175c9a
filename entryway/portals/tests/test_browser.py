"""In a real browser: a distributor creates an installer, who sets a password from the e-mail and logs in."""
from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail

from entryway.accounts.models import Account
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_distributor_creates_installer_who_then_logs_in(login_page, live_server, distributor, installer):
    mail.outbox.clear()
    page = login_page(distributor)
    assert page.url.endswith("/distributor/")
    page.get_by_role("link", name="New").click()
    page.locator("#id_username").fill("north-installs")
    page.locator("#id_name").fill("North Installs")
    page.locator("#id_email").fill("north@example.com")
    page.locator("#id_language").select_option("en")
    page.locator("#id_time_zone").select_option("Europe/Oslo")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=Installer “North Installs” created")
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 2
    assert "north-installs" in page.locator("main").inner_text()
    path = screenshot(page, "distributor-portal")
    assert path.exists()

    north = Account.objects.get(username="north-installs")
    assert north.parent == distributor and north.role == "installer"
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/reset/\S+/", mail.outbox[0].body).group(0)
    link = link.replace(settings.PUBLIC_BASE_URL.rstrip("/"), live_server.url)

    page.get_by_role("button", name="Log out").click()
    page.goto(link)
    page.wait_for_selector("h1:has-text('Set Password')")
    page.locator("#id_new_password1").fill("north-door-bell-2468")
    page.locator("#id_new_password2").fill("north-door-bell-2468")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("h1:has-text('Your password is set')")

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("north-installs")
    page.get_by_label("Password").fill("north-door-bell-2468")
    page.get_by_role("button", name="Login").click()
    page.wait_for_load_state("networkidle")
    # A new installer lands on the dashboard: an empty fleet, every chart at zero, no alert yet.
    assert page.url.endswith("/dashboard/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("nav.sidebar a.active").inner_text() == "Dashboard"
    main = page.locator("main").inner_text()
    for text in ("Users by status", "0 devices in all.", "No open alerts.", "No update strategy is running."):
        assert text in main
    page.locator("details.dropdown summary").click()
    menu = page.locator("details.dropdown ul").inner_text()
    for item in ("Customer Service", "Account Setting", "Change password", "Two-factor login", "Help"):
        assert item in menu
    screenshot(page, "installer-first-login")


def test_language_switch_changes_the_portal(login_page, live_server, distributor):
    page = login_page(distributor)
    with page.expect_navigation():
        page.locator("#language-switch").select_option("fr")
    page.wait_for_selector("html[lang=fr]")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Installateurs" in page.locator("nav.sidebar").inner_text()
    screenshot(page, "distributor-portal-fr")
