"""Remote Control end to end, in a real browser: the installer presses Remote Control, a simulated
device opens its tunnel, the browser logs in to the device's own web interface through the platform
and submits its settings form, and the simulated device has the change."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("e2e_settings")]


def test_remote_control_from_button_to_the_devices_settings(add_device, fleet_for, installer, other_installer,
                                                            login_page, live_server, password):
    from entryway.core.models import AuditLog
    from entryway.deviceapi.models import DeviceAction
    from entryway.remote.models import RemoteSession
    from entryway.sim.tunnel import tunnel_open

    device = add_device("Front gate")
    runner = fleet_for([device], poll_interval=0.5)
    assert runner.wait_until(lambda f: f.device(device.mac).online, timeout=12)
    sim = runner.fleet.device(device.mac)

    page = login_page(installer)
    page.goto(f"{live_server.url}/devices/{device.pk}/info/")
    page.get_by_role("button", name="Remote Control").click()
    page.wait_for_selector("#remote-status")
    session = RemoteSession.objects.get(device=device)
    assert page.url.endswith(f"/remote-control/{session.token}/")

    # The device takes the action at its next check-in and connects; the page reloads with its interface.
    assert runner.wait_until(lambda f: tunnel_open(f.device(device.mac)), timeout=10)
    page.wait_for_selector('#remote-status[data-state="connected"]', timeout=15_000)
    frame = page.frame_locator("iframe")
    # The device's own login applies: its pages send the browser to its login form first.
    frame.get_by_label("User Name").fill("admin")
    frame.get_by_label("Password").fill("admin")
    frame.get_by_role("button", name="Login").click()
    frame.get_by_role("heading", name="Status").wait_for()
    assert device.mac in frame.locator("table").inner_text()
    expect(frame.get_by_role("img", name="Device logo")).to_have_js_property("naturalWidth", 1)  # loaded
    frame.get_by_role("link", name="Settings").click()
    frame.get_by_label("Location").fill("Side door")
    frame.get_by_label("Screen Brightness (0-100)").fill("35")
    frame.get_by_role("button", name="Submit").click()
    frame.get_by_text("Saved.").wait_for()
    screenshot(page, "remote_control_device_settings")

    assert sim.web_settings["location"] == "Side door" and sim.web_settings["brightness"] == "35"
    assert sim.config["Config.DoorSetting.DEVICENODE.Location"] == "Side door"
    assert [c["field"] for c in sim.web.changes] == ["location", "brightness"]
    session.refresh_from_db()
    assert session.connected_at is not None and session.request_count >= 6

    # Close from the portal: the device's tunnel ends and the session is audited.
    page.get_by_role("button", name="Close").click()
    page.wait_for_selector('#remote-status[data-state="closed"]')
    assert page.locator("iframe").count() == 0
    assert runner.wait_until(lambda f: not tunnel_open(f.device(device.mac)), timeout=25)
    action = DeviceAction.objects.get(device=device, kind="remote_control")
    assert action.status == "success"
    closed = AuditLog.objects.get(action="remote.close")
    assert closed.actor == installer and closed.after["device"] == device.mac
    assert closed.after["requests"] >= 6 and closed.after["duration_seconds"] >= 1
    response = page.goto(f"{live_server.url}/remote/{session.token}/status")
    assert response.status == 410 and "This Remote Control session is closed" in page.content()

    # Another installer gets nothing of it.
    page.goto(f"{live_server.url}/remote-control/")
    assert page.locator(f'tr[data-session="{session.token}"]').count() == 1
    assert "Closed" in page.locator(f'tr[data-session="{session.token}"]').inner_text()
    screenshot(page, "remote_control_sessions")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(other_installer.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_load_state("networkidle")
    assert page.goto(f"{live_server.url}/remote-control/{session.token}/").status == 404
    assert page.goto(f"{live_server.url}/remote/{session.token}/").status == 404


def test_a_device_that_never_connects(add_device, installer, login_page, live_server, settings):
    from entryway.remote.models import RemoteSession

    settings.REMOTE_CONNECT_TIMEOUT = 2
    settings.REMOTE_REQUEST_TIMEOUT = 2
    device = add_device("Back gate")  # no simulated device: it never checks in
    page = login_page(installer)
    page.goto(f"{live_server.url}/devices/{device.pk}/info/")
    page.get_by_role("button", name="Remote Control").click()
    page.wait_for_selector('#remote-status[data-state="waiting"]')
    page.wait_for_selector('#remote-status[data-state="not_connected"]', timeout=10_000)
    assert "The device did not connect within 2 seconds" in page.locator("#remote-status").inner_text()
    token = RemoteSession.objects.get(device=device).token
    response = page.goto(f"{live_server.url}/remote/{token}/")
    assert response.status == 504
    assert page.get_by_role("heading", name="The device did not connect").is_visible()
    screenshot(page, "remote_control_device_did_not_connect")
