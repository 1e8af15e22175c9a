import pytest

from entryway.core.models import AuditLog
from entryway.devices import services
from entryway.devices.models import IntercomDevice, MacLibraryEntry, ThirdPartyCamera

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_api(client, other_installer):
    from entryway.accounts.services import api_token_create

    _token, raw = api_token_create(acting_user=other_installer, name="other")
    return {"Authorization": f"Bearer {raw}"}


def test_anonymous_401(client):
    for method, path in (("get", "/api/v1/mac-library"), ("post", "/api/v1/mac-library"),
                         ("get", "/api/v1/devices"), ("post", "/api/v1/devices"), ("get", "/api/v1/devices/1"),
                         ("get", "/api/v1/cameras"), ("get", "/api/v1/cameras/1"),
                         ("delete", "/api/v1/mac-library/0C110512BC97")):
        assert getattr(client, method)(path).status_code == 401, path


def test_resident_role_refused(client, resident):
    client.force_login(resident.account)
    assert client.get("/api/v1/devices").status_code == 401


def test_mac_library_add_list_search_remove(api, installer, resident, make_device):
    response = api.post("/api/v1/mac-library", {"mac": "0c:11:05:12:bc:97"})
    assert response.status_code == 201 and response.json()["mac"] == "0C110512BC97"
    assert api.post("/api/v1/mac-library", {"mac": "0C110512BC97"}).status_code == 422
    bad = api.post("/api/v1/mac-library", {"mac": "0C11"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "mac"]
    api.post("/api/v1/mac-library", {"mac": "0C110512BC98"})
    make_device(resident, mac="0C110512BC97")
    body = api.get("/api/v1/mac-library", {"q": "bc97"}).json()
    assert body["count"] == 1 and body["items"][0]["bound"] and body["items"][0]["owner_name"] == resident.name
    assert api.get("/api/v1/mac-library", {"bound": "free"}).json()["count"] == 1
    refused = api.delete("/api/v1/mac-library/0C110512BC97")
    assert refused.status_code == 422 and "unbind it first" in refused.json()["detail"][0]["msg"]
    assert api.delete("/api/v1/mac-library/0c-11-05-12-bc-98").status_code == 204
    assert api.delete("/api/v1/mac-library/0C110512BC98").status_code == 404
    assert api.delete("/api/v1/mac-library/garbage").status_code == 404


def test_mac_import_api(api, client, api_token):
    from django.core.files.uploadedfile import SimpleUploadedFile

    headers = {"Authorization": f"Bearer {api_token}"}
    response = client.post("/api/v1/mac-library/import", {"file": SimpleUploadedFile(
        "x.bin", b"MAC\n0C1100000001\n0C1100000001\nbad\n")}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["added"], body["duplicates"], body["invalid"]) == (1, 1, 1)
    assert [r["result"] for r in body["rows"]] == ["added", "duplicate", "invalid"]
    response = client.post("/api/v1/mac-library/import", {"file": SimpleUploadedFile("x.csv", b"\x00\x01\x02")},
                           headers=headers)
    assert response.status_code == 422 and "spreadsheet" in response.json()["detail"][0]["msg"]


def test_device_crud_with_relays(api, installer, resident):
    services.mac_add(acting_user=installer, mac="0C110512BC97")
    services.mac_add(acting_user=installer, mac="0C110512BC98")
    payload = {"owner_id": resident.pk, "device_model": "R29", "mac": "0C:11:05:12:BC:97", "location": "Gate",
               "relays": [{"enabled": True, "name": "Front Door", "dtmf_code": "#"},
                          {"enabled": True, "name": "Garage", "dtmf_code": "9"}]}
    response = api.post("/api/v1/devices", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mac"] == "0C110512BC97" and body["device_type"] == "door_phone" and body["status"] == "offline"
    assert [r["name"] for r in body["relays"]] == ["Front Door", "Garage"] and body["sip_number"]
    assert "device_secret" not in body and "mqtt_password" not in body
    device_id = body["id"]
    assert api.get(f"/api/v1/devices/{device_id}").json()["location"] == "Gate"
    assert api.get("/api/v1/devices", {"q": "front"}).json()["count"] == 0
    assert api.get("/api/v1/devices", {"q": "gate"}).json()["count"] == 1
    assert api.get("/api/v1/devices", {"owner_id": resident.pk}).json()["count"] == 1
    response = api.patch(f"/api/v1/devices/{device_id}", {"mac": "0C110512BC98", "relays": []})
    assert response.status_code == 200 and response.json()["mac"] == "0C110512BC98" and response.json()["relays"] == []
    response = api.put(f"/api/v1/devices/{device_id}", {"device_model": "IT82", "mac": "0C110512BC98",
                                                         "location": "Hall", "relays": []})
    assert response.status_code == 200 and response.json()["device_model"] == "IT82"
    assert api.delete(f"/api/v1/devices/{device_id}?delete_mac=true").status_code == 204
    assert not MacLibraryEntry.objects.filter(mac="0C110512BC98").exists()


@pytest.mark.parametrize("change, key", [
    ({"relays": [{"enabled": True, "name": f"R{i}"} for i in range(5)]}, "relays"),
    ({"relays": [{"enabled": True, "name": ""}]}, "relay1_name"),
    ({"relays": [{"enabled": True, "name": "Door", "dtmf_code": "1#x"}]}, "relay1_dtmf_code"),
    ({"mac": "0C110512BC99"}, "mac"),
    ({"mac": "zz"}, "mac"),
    ({"location": ""}, "location"),
    ({"device_model": "NOPE"}, "device_model"),
])
def test_device_create_bad_input_is_422(api, installer, resident, change, key):
    services.mac_add(acting_user=installer, mac="0C110512BC97")
    payload = {"owner_id": resident.pk, "device_model": "R29", "mac": "0C110512BC97", "location": "Gate",
               "relays": [], **change}
    response = api.post("/api/v1/devices", payload)
    assert response.status_code == 422
    assert ["body", key] in [e["loc"] for e in response.json()["detail"]]
    assert not IntercomDevice.objects.exists()


def test_other_installer_gets_404(client, other_api, installer, resident, premium_resident, make_device):
    device = make_device(resident)
    camera = services.camera_create(acting_user=installer, owner=premium_resident, location="Cam",
                                    rtsp_url="rtsp://10.0.0.1:554", username="u", password="p")
    for method, path in (("get", f"/api/v1/devices/{device.pk}"), ("delete", f"/api/v1/devices/{device.pk}"),
                         ("get", f"/api/v1/cameras/{camera.pk}"), ("delete", f"/api/v1/cameras/{camera.pk}"),
                         ("delete", f"/api/v1/mac-library/{device.mac}")):
        assert getattr(client, method)(path, headers=other_api).status_code == 404, path
    response = client.post("/api/v1/devices", {"owner_id": resident.pk, "device_model": "R29", "mac": device.mac,
                                               "location": "x"}, content_type="application/json", headers=other_api)
    assert response.status_code == 404
    assert client.get("/api/v1/devices", headers=other_api).json()["count"] == 0
    assert client.get("/api/v1/cameras", headers=other_api).json()["count"] == 0
    assert client.get("/api/v1/mac-library", headers=other_api).json()["count"] == 0


def test_camera_api_password_only_in_owner_detail(api, installer, resident, premium_resident, make_device):
    device = make_device(premium_resident)
    response = api.post("/api/v1/cameras", {"owner_id": resident.pk, "location": "Cam", "rtsp_url": "rtsp://h:554",
                                            "username": "u", "password": "p"})
    assert response.status_code == 422 and "Premium Plan" in response.json()["detail"][0]["msg"]
    response = api.post("/api/v1/cameras", {"owner_id": premium_resident.pk, "location": "Garden",
                                            "rtsp_url": "rtsp://cam.example.com:554/live", "username": "admin",
                                            "password": "cam-pass-77", "link_device_id": device.pk})
    assert response.status_code == 201 and "password" not in response.json()
    camera_id = response.json()["id"]
    listing = api.get("/api/v1/cameras", {"q": "gard"})
    assert listing.json()["count"] == 1 and "cam-pass-77" not in listing.content.decode()
    assert api.get(f"/api/v1/cameras/{camera_id}").json()["password"] == "cam-pass-77"
    for url in ("rtsp://cam.example.com/live", "http://cam.example.com:554"):
        bad = api.patch(f"/api/v1/cameras/{camera_id}", {"rtsp_url": url})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "rtsp_url"]
    assert api.patch(f"/api/v1/cameras/{camera_id}", {"location": "Garden 2"}).json()["location"] == "Garden 2"
    assert ThirdPartyCamera.objects.get().password == "cam-pass-77"
    response = api.put(f"/api/v1/cameras/{camera_id}", {"location": "G", "rtsp_url": "rtsp://10.1.1.1:554",
                                                         "username": "a", "password": "new-pass-88"})
    assert response.status_code == 200 and response.json()["link_device_id"] is None
    assert api.delete(f"/api/v1/cameras/{camera_id}").status_code == 204
    logs = " ".join(str(x.before) + str(x.after) for x in AuditLog.objects.filter(action__startswith="camera."))
    assert "cam-pass-77" not in logs and "new-pass-88" not in logs
