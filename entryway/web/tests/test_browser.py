"""The portal with demo data in a real browser: the dashboard, and the user guide's screenshots.

Every page visited is also photographed. A test run writes the pictures to a temporary folder, so the
suite leaves the working tree as it found it; ``make screenshots`` (``GUIDE_SCREENSHOTS=1``) runs these
tests writing into ``docs/user-guide/img/`` instead, the committed pictures that the guide's pages show
and the portal's Help serves.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GUIDE_IMG = Path(__file__).resolve().parents[3] / "docs" / "user-guide" / "img"
DEMO_PASSWORD = "entryway-demo"


@pytest.fixture
def demo():
    """The demo data of `make run`, alerts evaluated, and one update strategy under way."""
    from entryway.accounts.models import Account
    from entryway.dashboard.services import alerts_evaluate
    from entryway.devices.models import IntercomDevice
    from entryway.firmware.models import Firmware
    from entryway.firmware.services import strategy_create, strategy_start

    call_command("seed_demo")
    from entryway.residents.services import resident_create

    installer = Account.objects.get(username="installer")
    resident_create(acting_user=installer, installer=installer, name="Noah Novak", room_name="Flat 7")  # Inactivated
    devices = IntercomDevice.objects.filter(installer=installer, device_model__name="R29")
    strategy = strategy_create(acting_user=installer, firmware=Firmware.objects.get(version="29.30.2.804"),
                               device_ids=[d.pk for d in devices], upgrade_right_now=True)
    strategy_start(strategy_id=strategy.pk)
    # One device offline for two hours: an alert.
    IntercomDevice.objects.filter(pk=devices[0].pk).update(
        last_seen_at=timezone.now() - datetime.timedelta(hours=2))
    alerts_evaluate()
    return installer


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.wait_for_load_state("networkidle")
    return page


@pytest.fixture
def shot(tmp_path):
    """Photograph a page as ``<name>.png``: into the guide with GUIDE_SCREENSHOTS=1, else into a temporary folder."""
    folder = GUIDE_IMG if os.environ.get("GUIDE_SCREENSHOTS") == "1" else tmp_path

    def take(page, name, full_page=True):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path
    return take


def _watch(page, live_server):
    """Every request the page makes and every console error it logs."""
    seen = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    return seen


def test_dashboard_shows_the_demo_fleet_at_a_glance(browser_page, live_server, demo, shot):
    from entryway.dashboard.models import Alert
    from entryway.devices.models import IntercomDevice
    from entryway.residents.models import Resident

    seen = _watch(browser_page, live_server)
    page = _login(browser_page, live_server, "installer")
    assert page.url.endswith("/dashboard/")
    assert page.locator("h1").inner_text() == "Dashboard"

    now = timezone.now()
    residents = Resident.objects.filter(installer=demo)
    expected = {
        "Inactivated": residents.filter(activated_at__isnull=True).count(),
        "Normal": residents.filter(activated_at__isnull=False, expires_at__gt=now).count(),
        "Expired": residents.filter(activated_at__isnull=False, expires_at__lte=now).count(),
    }
    assert all(expected.values())  # the demo has users of every status
    users = page.locator("section", has=page.locator("h2", has_text="Users by status"))
    shown = {row.locator("th").inner_text(): int(row.locator("td.num").inner_text())
             for row in users.locator("tr").all()}
    assert shown == expected
    # The longest bar fills its track; the others are in proportion.
    widths = [float(w) for w in users.locator("rect").evaluate_all("rs => rs.map(r => r.getAttribute('width'))")]
    assert max(widths) == 100.0 and len(widths) == 3

    devices = page.locator("section", has=page.locator("h2", has_text="Devices"))
    online = IntercomDevice.objects.filter(installer=demo).online().count()
    total = IntercomDevice.objects.filter(installer=demo).count()
    rows = {row.locator("th").inner_text(): int(row.locator("td.num").inner_text())
            for row in devices.locator("tr").all()}
    assert rows == {"Online": online, "Offline": total - online} and total - online >= 1
    assert f"{total} devices in all." in devices.inner_text()

    firmware = page.locator("section", has=page.locator("h2", has_text="Firmware versions in use")).inner_text()
    assert "R29" in firmware and "29.30.2.805" in firmware

    updates = page.locator("section", has=page.locator("h2", has_text="Running update strategies"))
    assert "29.30.2.804" in updates.inner_text() and "Processing" in updates.inner_text()
    assert updates.locator("svg.bar").count() == 1

    open_alerts = Alert.objects.filter(installer=demo, cleared_at__isnull=True)
    assert open_alerts.filter(kind="device_offline").exists()
    alerts = page.locator("section", has=page.locator("h2", has_text="Recent alerts")).locator("li")
    assert alerts.count() == min(10, open_alerts.count())
    assert "has been offline since" in page.locator(".alert-list").inner_text()
    assert page.locator(".page-header a", has_text="Alerts").locator(".badge").inner_text() == str(
        open_alerts.count())
    # and next to Dashboard in the menu, on every page
    page.goto(f"{live_server.url}/devices/")
    assert page.locator("nav.sidebar .nav-badge").inner_text().endswith(str(open_alerts.count()))
    page.goto(f"{live_server.url}/dashboard/")

    # Nothing comes from anywhere but the platform itself (no CDN), and the page logs no error.
    assert seen["requests"] and all(url.startswith(live_server.url) for url in seen["requests"]), seen["requests"]
    assert seen["errors"] == []
    assert shot(page, "dashboard").stat().st_size > 10_000


# Each module page of the installer's portal: (image name, path, heading).
INSTALLER_PAGES = [
    ("user", "/users/", "User"),
    ("device", "/devices/", "Device"),
    ("autop", "/devices/autop/", "AutoP"),
    ("firmware", "/firmware/", "Firmware"),
    ("update", "/updates/", "Update"),
    ("message", "/messages/", "Message"),
    ("mac-library", "/mac-library/", "MAC Library"),
    ("setting", "/settings/", "Setting"),
    ("subscription", "/subscription/", "Subscription"),
    ("payments", "/payments/", "Payments"),
    ("alerts", "/alerts/", "Alerts"),
]


def test_user_guide_screenshots_of_every_module(browser_page, live_server, demo, settings, shot):
    from entryway.devices.models import IntercomDevice
    from entryway.firmware.models import UpdateStrategy

    settings.EXPORT_INLINE_MAX_ROWS = 0  # so that an export shows its progress page
    seen = _watch(browser_page, live_server)
    page = _login(browser_page, live_server, "installer")
    device = IntercomDevice.objects.filter(installer=demo).order_by("pk").first()
    strategy = UpdateStrategy.objects.filter(installer=demo).order_by("-pk").first()
    pages = INSTALLER_PAGES + [
        ("device-info", f"/devices/{device.pk}/info/", device.mac),
        ("update-detail", f"/updates/{strategy.pk}/", strategy.version),
        ("help", "/help/", "Help"),
        ("user-guide", "/help/dashboard/", "Dashboard"),
    ]
    # First a large export (its picture is in the guide that Help shows below): its progress page, then the file.
    page.goto(f"{live_server.url}/users/")
    page.locator("details.export-menu summary").click()
    page.get_by_role("link", name="Export CSV").click()
    page.wait_for_selector("text=rows exported")
    assert "/jobs/" in page.url
    shot(page, "export-progress")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.startswith("users-")

    for name, path, heading in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert heading in page.locator("main h1").first.inner_text(), (path, page.locator("main h1").all_inner_texts())
        shot(page, name, full_page=name != "user-guide")  # a manual is long: its first screen

    # The guide's pictures are served in Help, and fit in its column.
    page.goto(f"{live_server.url}/help/dashboard/")
    picture = page.locator("article.manual img").first
    assert picture.evaluate("i => i.complete && i.naturalWidth > 0")
    assert picture.bounding_box()["width"] <= page.locator("article.manual").bounding_box()["width"]
    image = page.request.get(f"{live_server.url}/help/img/dashboard.png")
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    assert seen["errors"] == [], seen["errors"]

    page.get_by_role("button", name="Log out").click()
    page = _login(page, live_server, "distributor")
    assert page.url.endswith("/distributor/")
    shot(page, "distributor")


@pytest.mark.parametrize(("username", "path"), [("admin", "/admin-portal/distributors/"),
                                                ("distributor", "/distributor/")])
def test_account_lists_fit_a_landscape_tablet(browser_page, live_server, demo, username, path):
    """At 1024 px the lists with e-mail addresses and times show every column and button without scrolling:
    an address breaks inside itself, a time between its date and its hour."""
    page = browser_page
    page.set_viewport_size({"width": 1024, "height": 768})
    _login(page, live_server, username)
    page.goto(f"{live_server.url}{path}")
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
    right = wrap.bounding_box()["x"] + wrap.bounding_box()["width"]
    buttons = page.locator("td.actions .btn")
    assert buttons.count() >= 1
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box["x"] + box["width"] <= right
    for cell in page.locator("td .nowrap").all():  # the date and the time each stay on one line
        assert cell.bounding_box()["height"] < 30
