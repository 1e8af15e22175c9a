import io

import pytest
from django.urls import reverse

from entryway.core.models import AuditLog
from entryway.devices import services
from entryway.devices.models import IntercomDevice, MacImport, MacLibraryEntry, ThirdPartyCamera

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(resident, make_device):
    return make_device(resident, mac="0C110512BC97", location="Front gate",
                       relays=[{"enabled": True, "name": "Front Door", "dtmf_code": "#"}])


@pytest.fixture
def camera(installer, premium_resident, make_device):
    linked = make_device(premium_resident, mac="0C110512BCAA", location="Garden gate")
    return services.camera_create(acting_user=installer, owner=premium_resident, location="Garden",
                                  rtsp_url="rtsp://10.0.0.5:554/live", username="admin", password="cam-secret-1",
                                  link_device=linked.pk)


def _pages(resident, device, camera, entry):
    return [
        reverse("devices:list"), reverse("devices:camera_list"),
        reverse("devices:resident_devices", args=[resident.pk]), reverse("devices:resident_cameras", args=[resident.pk]),
        reverse("devices:device_create", args=[resident.pk]), reverse("devices:camera_create", args=[resident.pk]),
        reverse("devices:device_edit", args=[device.pk]), reverse("devices:device_delete", args=[device.pk]),
        reverse("devices:camera_edit", args=[camera.pk]), reverse("devices:camera_delete", args=[camera.pk]),
        reverse("devices:mac_list"), reverse("devices:mac_remove", args=[entry.pk]),
    ]


def test_anonymous_redirected_to_login(client, resident, device, camera):
    for url in _pages(resident, device, camera, device.mac_entry):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_wrong_role_is_403(client, make_account, resident, device, camera, distributor):
    client.force_login(distributor)
    for url in _pages(resident, device, camera, device.mac_entry):
        if url.startswith("/mac-library/") and "remove" in url:
            continue  # distributors remove MACs of their register
        assert client.get(url).status_code == 403, url
    client.force_login(make_account("installer", username="inst-z"))
    assert client.get(reverse("devices:distributor_macs")).status_code == 403


def test_other_installer_gets_404(other_installer_client, resident, device, camera):
    for url in _pages(resident, device, camera, device.mac_entry)[2:]:
        if url in (reverse("devices:mac_list"),):
            continue
        assert other_installer_client.get(url).status_code == 404, url
    # Lists show nothing of another installer
    html = other_installer_client.get(reverse("devices:list")).content.decode()
    assert device.mac not in html
    assert other_installer_client.post(reverse("devices:device_delete", args=[device.pk])).status_code == 404
    assert IntercomDevice.objects.filter(pk=device.pk).exists()


def test_owner_sees_every_page(installer_client, resident, device, camera):
    for url in _pages(resident, device, camera, device.mac_entry):
        assert installer_client.get(url).status_code == 200, url


def test_device_module_lists_and_searches(installer_client, resident, make_device, django_assert_max_num_queries):
    for i in range(12):
        make_device(resident, mac=f"0C11AB{i:06X}", location=f"Gate {i}")
    url = reverse("devices:list")
    with django_assert_max_num_queries(8):
        response = installer_client.get(url, {"per_page": 100})
    html = response.content.decode()
    assert html.count('class="mono nowrap">0C11AB') == 12
    assert reverse("deviceapi:device_info", args=[IntercomDevice.objects.first().pk]) in html
    assert reverse("deviceapi:batch_autop") in html
    for q, expected in (("0c:11:ab:00:00:03", 1), ("0C-11-AB-00-00-0B", 1), ("ab:00:00:0", 12), ("AB00000", 12),
                        ("0C11AB0000031", 0), ("Gate 1", 3), (resident.name, 12), ("nothing", 0)):
        html = installer_client.get(url, {"q": q}).content.decode()
        found = html.count('class="mono nowrap">0C11AB')
        assert found == min(expected, 10), q
    sip = IntercomDevice.objects.first().sip_number
    assert sip in installer_client.get(url, {"q": sip}).content.decode()


def test_mac_list_shows_bound_owner_and_searches(installer_client, resident, device, library,
                                                 django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        html = installer_client.get(reverse("devices:mac_list")).content.decode()
    assert "0C110512BC98" in html and resident.name in html and "Not bound" in html
    html = installer_client.get(reverse("devices:mac_list"), {"q": "bc-99"}).content.decode()
    assert "0C110512BC99" in html and "0C110512BC98" not in html
    html = installer_client.get(reverse("devices:mac_list"), {"bound": "bound"}).content.decode()
    assert "0C110512BC97" in html and "0C110512BC98" not in html


def test_add_device_page_with_two_relays(installer_client, installer, resident, library):
    url = reverse("devices:device_create", args=[resident.pk])
    html = installer_client.get(url).content.decode()
    assert "0C110512BC98" in html and "Add Relay" in html and "Add Security Relay" in html
    assert 'readonly' in html and resident.name in html
    r29 = IntercomDevice._meta.get_field("device_model").related_model.objects.get(name="R29")
    response = installer_client.post(url, {
        "device_model": r29.pk, "mac": "0c-11-05-12-bc-98", "location": "Main gate",
        "relay1_enabled": "on", "relay1_name": "Front Door", "relay1_dtmf_code": "#",
        "relay2_enabled": "on", "relay2_name": "Garage", "relay2_dtmf_code": "2",
        "relay3_enabled": "off", "relay3_name": "", "relay3_dtmf_code": "",
        "security_relay": "on",
    })
    assert response.status_code == 302
    device = IntercomDevice.objects.get()
    assert device.mac == "0C110512BC98" and device.security_relay
    assert list(device.relays.values_list("name", flat=True)) == ["Front Door", "Garage"]


def test_add_device_page_shows_errors_and_saves_nothing(installer_client, resident, library):
    url = reverse("devices:device_create", args=[resident.pk])
    response = installer_client.post(url, {
        "device_model": "", "mac": "0C110512ZZZZ", "location": "",
        "relay1_enabled": "on", "relay1_name": "", "relay1_dtmf_code": "A",
    })
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in html or "This field is required" in html
    response = installer_client.post(url, {
        "device_model": IntercomDevice._meta.get_field("device_model").related_model.objects.get(name="IT82").pk,
        "mac": "0C110512ZZZZ", "location": "", "relay1_enabled": "on", "relay1_name": "", "relay1_dtmf_code": "A",
    })
    html = response.content.decode()
    assert "is not a MAC address" in html
    assert "Location is required" in html
    assert "Relay 1 is On: give it a Relay Name" in html
    assert "A DTMF Code is 1 to 4" in html
    assert not IntercomDevice.objects.exists()


def test_edit_device_changes_mac(installer_client, device, library):
    url = reverse("devices:device_edit", args=[device.pk])
    html = installer_client.get(url).content.decode()
    assert 'value="Front Door"' in html
    response = installer_client.post(url, {
        "device_model": device.device_model_id, "mac": "0C110512BC99", "location": "Back gate",
        "relay1_enabled": "on", "relay1_name": "Front Door", "relay1_dtmf_code": "#",
    })
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.mac == "0C110512BC99" and device.location == "Back gate"


def test_delete_device_with_its_mac(installer_client, device):
    url = reverse("devices:device_delete", args=[device.pk])
    html = installer_client.get(url).content.decode()
    assert "Also delete its MAC from the MAC Library" in html
    response = installer_client.post(url, {"delete_mac": "on", "next": "/devices/"})
    assert response.status_code == 302 and response["Location"] == "/devices/"
    assert not IntercomDevice.objects.exists() and not MacLibraryEntry.objects.filter(mac=device.mac).exists()


def test_delete_device_refuses_foreign_next(installer_client, device):
    response = installer_client.post(reverse("devices:device_delete", args=[device.pk]),
                                     {"next": "https://evil.example.com/"})
    assert response["Location"] == reverse("devices:list")
    assert MacLibraryEntry.objects.filter(mac=device.mac).exists()


def test_camera_pages(installer_client, installer, premium_resident, resident, camera):
    html = installer_client.get(reverse("devices:camera_list"), {"q": "gard"}).content.decode()
    assert "Garden" in html and "Garden gate" in html and "cam-secret-1" not in html
    html = installer_client.get(reverse("devices:camera_edit", args=[camera.pk])).content.decode()
    assert "cam-secret-1" not in html and 'data-toggle-password="id_password"' in html
    assert "same local network (LAN)" in html and "Format - rtsp://ip:port or rtsp://domain:port" in html
    # Edit without a password keeps it
    response = installer_client.post(reverse("devices:camera_edit", args=[camera.pk]), {
        "location": "Garden west", "rtsp_url": "rtsp://cam.example.com:8554/a", "username": "admin",
        "password": "", "link_device": ""})
    assert response.status_code == 302
    camera.refresh_from_db()
    assert camera.password == "cam-secret-1" and camera.location == "Garden west" and camera.link_device is None
    # Bad RTSP address
    response = installer_client.post(reverse("devices:camera_create", args=[premium_resident.pk]), {
        "location": "Porch", "rtsp_url": "http://10.0.0.9/stream", "username": "u", "password": "p"})
    assert "starts with rtsp://" in response.content.decode()
    # No Premium Plan
    html = installer_client.get(reverse("devices:resident_cameras", args=[resident.pk])).content.decode()
    assert "Premium Plan" in html
    response = installer_client.post(reverse("devices:camera_create", args=[resident.pk]), {
        "location": "Porch", "rtsp_url": "rtsp://10.0.0.9:554", "username": "u", "password": "p"})
    assert "Premium Plan" in response.content.decode()
    assert ThirdPartyCamera.objects.count() == 1
    response = installer_client.post(reverse("devices:camera_delete", args=[camera.pk]))
    assert response.status_code == 302 and not ThirdPartyCamera.objects.exists()


def test_mac_new_and_remove(installer_client, device):
    response = installer_client.post(reverse("devices:mac_create"), {"mac": "0c:11:05:12:bc:a0"})
    assert response.status_code == 302
    assert MacLibraryEntry.objects.filter(mac="0C110512BCA0").exists()
    response = installer_client.post(reverse("devices:mac_create"), {"mac": "nope"})
    assert "is not a MAC address" in response.content.decode()
    # A bound MAC: the confirmation page says why, and a POST is refused
    html = installer_client.get(reverse("devices:mac_remove", args=[device.mac_entry.pk])).content.decode()
    assert "unbind it first" in html
    response = installer_client.post(reverse("devices:mac_remove", args=[device.mac_entry.pk]), follow=True)
    assert "unbind it first" in response.content.decode()
    assert MacLibraryEntry.objects.filter(mac=device.mac).exists()
    entry = MacLibraryEntry.objects.get(mac="0C110512BCA0")
    installer_client.post(reverse("devices:mac_remove", args=[entry.pk]))
    assert not MacLibraryEntry.objects.filter(mac="0C110512BCA0").exists()


def test_template_download_is_an_xlsx_with_mac_header(installer_client):
    from openpyxl import load_workbook

    response = installer_client.get(reverse("devices:mac_template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "MAC" and sheet["A2"].value == "0C11050893CA"


def _xlsx(values, header="MAC") -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append([header])
    for v in values:
        wb.active.append([v])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_import_xlsx_inline_and_report(installer_client, installer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    services.mac_add(acting_user=installer, mac="0C1100000001")
    upload = SimpleUploadedFile("macs.data", _xlsx(["0C1100000001", "0c:11:00:00:00:02", "bad", "0C1100000002"]))
    response = installer_client.post(reverse("devices:mac_import"), {"file": upload})
    assert response.status_code == 302
    job = MacImport.objects.get()
    assert (job.added, job.duplicates, job.invalid, job.status) == (1, 2, 1, "done")
    html = installer_client.get(response["Location"]).content.decode()
    assert "Row by row" in html and "bad" in html and "Repeats an earlier row" in html
    assert 'hx-trigger="every 1s"' not in html
    html = installer_client.get(response["Location"], {"result": "invalid"}).content.decode()
    assert "0C1100000002" not in html and "bad" in html


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a spreadsheet"),
    (b"Serial\n0C1100000001\n", "header MAC"),
])
def test_import_bad_file_saves_nothing(installer_client, content, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = installer_client.post(reverse("devices:mac_import"), {
        "file": SimpleUploadedFile("macs.xlsx", content)})
    assert response.status_code == 200 and message in response.content.decode()
    assert not MacImport.objects.exists() and not MacLibraryEntry.objects.exists()


def test_large_import_runs_as_task_with_progress_page(installer_client, installer, settings,
                                                      django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAC_IMPORT_INLINE_MAX_BYTES = 100
    data = ("MAC\n" + "".join(f"0C{i:010X}\n" for i in range(300))).encode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = installer_client.post(reverse("devices:mac_import"), {
            "file": SimpleUploadedFile("macs.csv", data)})
    job = MacImport.objects.get()
    assert job.status == "pending" and len(callbacks) == 1
    html = installer_client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in html and "<progress" in html
    progress = installer_client.get(reverse("devices:import_progress", args=[job.pk]))
    assert progress.status_code == 200 and "HX-Refresh" not in progress
    callbacks[0]()  # the task (Huey runs immediately in tests)
    job.refresh_from_db()
    assert job.status == "done" and job.added == 300
    progress = installer_client.get(reverse("devices:import_progress", args=[job.pk]))
    assert progress["HX-Refresh"] == "true"


def test_import_detail_is_private(client, installer, other_installer):
    job = services.mac_import_start(acting_user=installer, data=b"MAC\n0C1100000001\n", file_name="a.csv")
    client.force_login(other_installer)
    assert client.get(reverse("devices:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("devices:import_progress", args=[job.pk])).status_code == 404


def test_distributor_registers_and_assigns(client, distributor, installer, other_installer):
    client.force_login(distributor)
    assert client.post(reverse("devices:distributor_mac_create"), {"mac": "0C11050893CA"}).status_code == 302
    services.mac_add(acting_user=distributor, mac="0C11050893CB")
    html = client.get(reverse("devices:distributor_macs")).content.decode()
    assert "0C11050893CA" in html and "Not assigned" in html
    response = client.post(reverse("devices:distributor_mac_assign"), {
        "installer": installer.pk, "macs": ["0C11050893CA", "0C11050893CB"]})
    assert response.status_code == 302
    assert MacLibraryEntry.objects.filter(installer=installer).count() == 2
    # Another distributor's installer is refused
    services.mac_add(acting_user=distributor, mac="0C11050893CC")
    client.post(reverse("devices:distributor_mac_assign"), {"installer": other_installer.pk, "macs": ["0C11050893CC"]})
    assert MacLibraryEntry.objects.get(mac="0C11050893CC").installer is None
    assert AuditLog.objects.filter(action="mac.assign").count() == 2
