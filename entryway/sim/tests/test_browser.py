"""In a real browser: an installer sends Reboot and Once Autop from a device's info page, a simulated
device carries both out, and the page shows them confirmed without a reload."""
from __future__ import annotations

import pytest

from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("e2e_settings")]


def test_reboot_and_once_autop_from_the_device_info_page(add_device, fleet_for, installer, login_page, live_server):
    from entryway.deviceapi.models import DeviceAction

    device = add_device("Front gate")
    runner = fleet_for([device], poll_interval=0.5, reboot_seconds=1.0)
    assert runner.wait_until(lambda f: f.device(device.mac).online, timeout=12)
    sim = runner.fleet.device(device.mac)

    page = login_page(installer)
    page.goto(f"{live_server.url}/devices/{device.pk}/info/")
    assert page.get_by_text("Online", exact=True).is_visible()
    page.get_by_role("button", name="Reboot").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#device-actions tr[data-action]").count() == 1

    page.get_by_label("Others").fill("Config.Settings.DATETIME.DateFormat = 2\nConfig.Settings.LCD.Brightness = 40")
    page.get_by_role("button", name="Once Autop").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#device-actions tr[data-action]").count() == 2

    # The action list refreshes itself while actions are open: both become Success.
    page.locator('#device-actions tr[data-status="success"]').nth(1).wait_for(timeout=15_000)
    statuses = set(DeviceAction.objects.filter(device=device).values_list("status", flat=True))
    assert statuses == {"success"}
    assert sim.boots == 1
    assert sim.config["Config.Settings.DATETIME.DateFormat"] == "2"
    assert sim.config["Config.Settings.LCD.Brightness"] == "40"
    screenshot(page, "sim_device_info_actions_confirmed")
