"""The MAC Library and Device modules in a real browser: import, add a device and a camera, search, edit, delete."""
from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from entryway.devices.models import IntercomDevice, MacImport, MacLibraryEntry, ThirdPartyCamera
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["MAC"])
    for value in rows:
        sheet.append([value])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_import_add_device_and_camera_search_edit_delete(login_page, live_server, installer, make_resident, tmp_path):
    resident = make_resident(installer, name="Ryan Chen", premium_plan=True)
    page = login_page(installer)

    # MAC Library → Import an .xlsx made with openpyxl
    page.goto(f"{live_server.url}/mac-library/")
    assert page.get_by_role("link", name="Download Template").get_attribute("href").endswith("template.xlsx")
    page.get_by_role("link", name="Import").click()
    path = tmp_path / "macs.xlsx"
    path.write_bytes(_xlsx(["0C110512BC97", "0C:11:05:12:BC:98", "0c-11-05-12-bc-99", "not-a-mac",
                            "0C110512BC97"]))
    page.get_by_label("MAC template").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("h2:has-text('Row by row')")
    body = page.locator("main").inner_text()
    assert "Done" in body and "not-a-mac" in body and "Repeats an earlier row" in body
    job = MacImport.objects.get()
    assert (job.added, job.duplicates, job.invalid) == (3, 1, 1)
    screenshot(page, "mac-import-report")
    page.get_by_role("link", name="Back to MAC Library").click()
    page.get_by_label("MAC", exact=True).fill("bc98")
    page.get_by_role("button", name="Search").click()
    assert "0C110512BC98" in page.locator("table").inner_text()
    assert "0C110512BC97" not in page.locator("table").inner_text()
    page.goto(f"{live_server.url}/mac-library/")
    screenshot(page, "mac-library")

    # User row → Intercom Devices → New: a door phone with two relays
    page.goto(f"{live_server.url}/users/")
    page.get_by_role("link", name=f"Intercom Devices {resident.name}").click()
    page.wait_for_selector("h1:has-text('Devices of Ryan Chen')")
    page.get_by_role("link", name="New").click()
    page.wait_for_selector("h1:has-text('Add Device')")
    assert page.get_by_label("Owner").input_value().startswith("Ryan Chen")
    # rows appear one by one (the page script hides the others once it has run)
    expect(page.locator("[data-relay-row]").nth(1)).to_be_hidden()
    page.get_by_label("Device Type").select_option(label="R29")
    page.locator("#id_mac").fill("0c:11:05:12:bc:97")
    page.get_by_label("Location").fill("Front gate")
    page.locator("input[name=relay1_enabled][value=on]").check()
    page.locator("#id_relay1_name").fill("Front Door")
    page.locator("#id_relay1_dtmf_code").fill("#")
    page.get_by_role("button", name="Add Relay").click()
    page.locator("input[name=relay2_enabled][value=on]").check()
    page.locator("#id_relay2_name").fill("Garage")
    page.locator("#id_relay2_dtmf_code").fill("2")
    page.get_by_label("Add Security Relay").check()
    screenshot(page, "device-add")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=added with SIP number")
    device = IntercomDevice.objects.get()
    assert device.mac == "0C110512BC97" and device.security_relay
    assert list(device.relays.values_list("name", "dtmf_code")) == [("Front Door", "#"), ("Garage", "2")]
    row = page.locator("table.devices-table tbody tr").first.inner_text()
    assert "0C110512BC97" in row and device.sip_number in row and "Offline" in row
    screenshot(page, "user-intercom-devices")

    # Third-party Devices → New camera, password shown with the eye toggle
    page.get_by_role("link", name="Third-party Devices").click()
    page.get_by_role("link", name="New").click()
    page.wait_for_selector("h1:has-text('Add Camera')")
    page.get_by_label("Location").fill("Driveway")
    page.get_by_label("RTSP Address").fill("rtsp://192.168.1.64:554/Streaming/Channels/101")
    page.get_by_label("Username").fill("admin")
    page.locator("#id_password").fill("cam-pass-1")
    assert page.locator("#id_password").get_attribute("type") == "password"
    page.locator("[data-toggle-password]").click()
    assert page.locator("#id_password").get_attribute("type") == "text"
    page.get_by_label("Link Device").select_option(value=str(device.pk))
    screenshot(page, "camera-add")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=Camera added.")
    camera = ThirdPartyCamera.objects.get()
    assert camera.link_device == device and camera.password == "cam-pass-1"

    # Device module: search, edit, screenshot
    page.get_by_role("link", name="Device", exact=True).click()
    page.get_by_label("Search").fill("0C-11-05-12-BC-97")
    page.get_by_role("button", name="Search").click()
    assert page.locator("table.devices-table tbody tr").count() == 1
    assert page.get_by_role("link", name="Info 0C110512BC97").get_attribute("href") == f"/devices/{device.pk}/info/"
    screenshot(page, "device-module")
    page.get_by_role("link", name="Edit 0C110512BC97").click()
    page.wait_for_selector("h1:has-text('Edit Device')")
    assert page.locator("#id_relay2_name").input_value() == "Garage"
    page.locator("#id_mac").fill("0C110512BC98")
    page.get_by_label("Location").fill("Main gate")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=Device saved.")
    device.refresh_from_db()
    assert device.mac == "0C110512BC98" and device.location == "Main gate"
    page.get_by_label("Search").fill("main")
    page.get_by_role("button", name="Search").click()
    assert "0C110512BC98" in page.locator("table.devices-table").inner_text()

    # Third Party Devices tab: search by Location, edit, delete
    page.goto(f"{live_server.url}/devices/")
    page.get_by_role("link", name="Third Party Devices").click()
    page.get_by_label("Search").fill("drive")
    page.get_by_role("button", name="Search").click()
    assert "Driveway" in page.locator("table.cameras-table").inner_text()
    page.get_by_role("link", name="Edit Driveway").click()
    page.get_by_label("Location").fill("Driveway east")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=Camera saved.")
    camera.refresh_from_db()
    assert camera.location == "Driveway east" and camera.password == "cam-pass-1"
    page.goto(f"{live_server.url}/devices/cameras/")
    page.get_by_role("link", name="Delete Driveway east").click()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_selector("text=deleted")
    assert not ThirdPartyCamera.objects.exists()

    # Delete the device and its MAC
    page.goto(f"{live_server.url}/devices/")
    page.get_by_role("link", name="Delete 0C110512BC98").click()
    page.get_by_label("Also delete its MAC from the MAC Library").check()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_selector("text=Device 0C110512BC98 deleted.")
    assert not IntercomDevice.objects.exists()
    assert not MacLibraryEntry.objects.filter(mac="0C110512BC98").exists()
    assert MacLibraryEntry.objects.filter(mac="0C110512BC97").exists()


def test_distributor_registers_and_assigns_macs(login_page, live_server, distributor, installer):
    from entryway.devices.services import mac_add

    for mac in ("0C11050A0001", "0C11050A0002", "0C11050A0003"):
        mac_add(acting_user=distributor, mac=mac)
    page = login_page(distributor)
    page.goto(f"{live_server.url}/distributor/macs/")
    page.get_by_role("link", name="New").click()
    page.locator("#id_mac").fill("0c-11-05-0a-00-04")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=0C11050A0004 added.")
    page.get_by_label("0C11050A0001").check()
    page.get_by_label("0C11050A0004").check()
    assert page.locator("[data-selected-count='macs']").inner_text() == "2"
    page.get_by_label("Assign selected MACs to").select_option(label=installer.display_name)
    screenshot(page, "distributor-macs")
    page.get_by_role("button", name="Assign").click()
    page.wait_for_selector("text=2 MAC(s) assigned")
    assert set(MacLibraryEntry.objects.filter(installer=installer).values_list("mac", flat=True)) == {
        "0C11050A0001", "0C11050A0004"}
