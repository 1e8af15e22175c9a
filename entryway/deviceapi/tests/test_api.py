"""Remote maintenance and batch AutoP in the user API: tenancy, roles, bad input."""
from __future__ import annotations

import pytest

from entryway.deviceapi.models import DeviceAction

pytestmark = pytest.mark.django_db


def test_reboot_once_autop_settings_and_actions(api, device):
    response = api.post(f"/api/v1/devices/{device.pk}/reboot")
    assert response.status_code == 201
    assert response.json()["kind"] == "reboot" and response.json()["status"] == "pending"
    response = api.post(f"/api/v1/devices/{device.pk}/once-autop", {"commands": "Config.A.B.C = 1"})
    assert response.status_code == 201 and response.json()["payload"] == {"lines": ["Config.A.B.C = 1"]}
    response = api.put(f"/api/v1/devices/{device.pk}/settings", {"connect_type": "tls",
                                                                 "autop_commands": "Config.X.Y.Z = 2"})
    assert response.status_code == 200
    assert response.json() == {"id": device.pk, "mac": device.mac, "connect_type": "tls",
                               "autop_commands": "Config.X.Y.Z = 2"}
    actions = api.get(f"/api/v1/devices/{device.pk}/actions").json()
    assert [a["kind"] for a in actions] == ["autop", "reboot"]


def test_bad_input_is_422_with_the_line(api, device):
    response = api.post(f"/api/v1/devices/{device.pk}/once-autop", {"commands": "hello"})
    assert response.status_code == 422
    assert "Line 1" in str(response.json())
    assert api.put(f"/api/v1/devices/{device.pk}/settings", {"connect_type": "sctp"}).status_code == 422
    assert not DeviceAction.objects.exists()


def test_batch_autop_limit(api, device):
    response = api.post("/api/v1/autop/batch", {"mode": "once", "commands": "Config.A.B.C = 1",
                                                  "device_ids": [device.pk, *range(50_000, 50_500)]})
    assert response.status_code == 422
    assert "500" in str(response.json())
    response = api.post("/api/v1/autop/batch", {"mode": "once", "commands": "Config.A.B.C = 1",
                                                  "device_ids": [device.pk]})
    assert response.json() == {"count": 1}


def test_tenancy_and_roles(client, api, other_installer, make_device, distributor, device):
    foreign = make_device(other_installer)
    assert api.post(f"/api/v1/devices/{foreign.pk}/reboot").status_code == 404
    assert api.get(f"/api/v1/devices/{foreign.pk}/actions").status_code == 404
    assert client.post(f"/api/v1/devices/{device.pk}/reboot").status_code == 401
    client.force_login(distributor)
    assert client.get(f"/api/v1/devices/{device.pk}/actions").status_code == 200
    assert not DeviceAction.objects.exists()
