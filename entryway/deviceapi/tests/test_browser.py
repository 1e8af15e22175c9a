"""Batch AutoP and Device Info in a real browser: selection across picker pages, Reboot, Once Autop."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from entryway.deviceapi.models import DeviceAction
from entryway.devices.models import IntercomDevice
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_batch_autop_keeps_the_selection_across_pages(login_page, live_server, installer, make_device):
    devices = sorted((make_device(installer) for _ in range(12)), key=lambda d: d.mac)
    page = login_page(installer)
    page.goto(f"{live_server.url}/devices/autop/")
    page.get_by_label("One Time AutoP").check()
    page.get_by_label("AutoP commands").fill("Config.Settings.DATETIME.DateFormat = 2")
    page.get_by_label(devices[0].mac).check()
    page.get_by_label(devices[1].mac).check()
    count = page.locator("[data-autop-count]")
    expect(count).to_have_text("2")
    # next page (htmx swaps the picker only; the form keeps its text)
    page.get_by_role("link", name="2", exact=True).click()
    page.get_by_label(devices[11].mac).wait_for()
    page.get_by_label(devices[11].mac).check()
    expect(count).to_have_text("3")
    assert page.get_by_label("AutoP commands").input_value() == "Config.Settings.DATETIME.DateFormat = 2"
    # search, back to the first device: still ticked
    page.locator("input[name=q]").fill(devices[0].mac[-6:])
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#autop-picker tbody tr")).to_have_count(1)
    expect(page.get_by_label(devices[0].mac)).to_be_checked()
    page.get_by_label(devices[0].mac).uncheck()
    expect(count).to_have_text("2")
    screenshot(page, "deviceapi_batch_autop")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_load_state("networkidle")
    assert "One Time AutoP sent to 2 device(s)." in page.content()
    assert sorted(DeviceAction.objects.filter(kind="autop").values_list("device__mac", flat=True)) == sorted(
        [devices[1].mac, devices[11].mac])


def test_device_info_reboot_and_once_autop(login_page, live_server, installer, make_device):
    device = make_device(installer, location="Gate", relays=[(1, "Front door", "#")])
    page = login_page(installer)
    page.goto(f"{live_server.url}/devices/{device.pk}/info/")
    page.get_by_label("Connect Type").select_option("tcp")
    page.get_by_label("Others").fill("Config.Settings.DATETIME.TimeFormat = 1")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_load_state("networkidle")
    assert IntercomDevice.objects.get(pk=device.pk).connect_type == "tcp"
    page.get_by_role("button", name="Reboot").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Once Autop").click()
    page.wait_for_load_state("networkidle")
    rows = page.locator("#device-actions tbody tr")
    assert rows.count() == 2
    assert set(DeviceAction.objects.values_list("kind", flat=True)) == {"reboot", "autop"}
    screenshot(page, "deviceapi_device_info")


def test_autop_credentials_eye_toggle_and_rotate(login_page, live_server, installer):
    from entryway.deviceapi.models import AutopCredential

    page = login_page(installer)
    page.goto(f"{live_server.url}/settings/autop/")
    password = page.locator("#autop-password")
    assert password.get_attribute("type") == "password"
    page.get_by_role("button", name="Show or hide the password").click()
    assert password.get_attribute("type") == "text"
    old = password.input_value()
    assert old == AutopCredential.objects.get(installer=installer).password
    screenshot(page, "deviceapi_autop_credentials")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate").click()
    page.wait_for_load_state("networkidle")
    assert "New AutoP password made" in page.content()
    assert AutopCredential.objects.get(installer=installer).password != old
