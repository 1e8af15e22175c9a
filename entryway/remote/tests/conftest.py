"""Devices and sessions for the Remote Control tests."""
from __future__ import annotations

import itertools

import pytest

_macs = itertools.count(0x0C11AA000001)


@pytest.fixture
def make_device(make_resident):
    from entryway.devices.models import DeviceModel
    from entryway.devices.services import device_create, mac_add

    def make(installer, location="Gate"):
        owner = make_resident(installer, name=f"Owner of {location}")
        model, _ = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})
        mac = f"{next(_macs):012X}"
        mac_add(acting_user=installer, mac=mac, installer=installer)
        return device_create(acting_user=installer, owner=owner, device_model=model, mac=mac, location=location)

    return make


@pytest.fixture
def device(make_device, installer):
    return make_device(installer)


@pytest.fixture
def open_session(installer, device):
    from entryway.remote.services import session_open

    return session_open(acting_user=installer, device=device)


@pytest.fixture
def device_auth():
    import base64

    def auth(device):
        from entryway.devices.models import IntercomDevice

        secret = IntercomDevice.objects.get(pk=device.pk).device_secret
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{device.mac}:{secret}".encode()).decode()}

    return auth

