"""Fixtures for the end-to-end tests: devices added as the Device module adds them, and a simulated
fleet running against the live server."""
from __future__ import annotations

import itertools

import pytest

from entryway.sim import DeviceSpec, Fleet, FleetThread

_macs = itertools.count(0x0C11E2E00001)


@pytest.fixture
def e2e_settings(settings, live_server):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MQTT_URL = ""
    settings.MQTT_DYNSEC = False
    settings.DEVICE_POLL_INTERVAL = 1
    settings.DEVICE_LAST_SEEN_WRITE_INTERVAL = 30
    from django.core.cache import cache

    cache.clear()
    return settings


@pytest.fixture
def add_device(installer, make_resident):
    """A device added the way the Device module adds one: a MAC in the library, then the device."""
    from entryway.devices.models import DeviceModel
    from entryway.devices.services import device_create, mac_add

    owner = make_resident(installer, name="Gate owner", time_zone="Europe/Berlin")
    model, _ = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})

    def add(location="Gate"):
        mac = f"{next(_macs):012X}"
        mac_add(acting_user=installer, mac=mac, installer=installer)
        return device_create(acting_user=installer, owner=owner, device_model=model, mac=mac, location=location)

    return add


@pytest.fixture
def autop_credentials(installer):
    from entryway.deviceapi.services import autop_credential_get_or_create

    credential = autop_credential_get_or_create(installer=installer)
    return credential.username, credential.password


@pytest.fixture
def fleet_for(live_server, autop_credentials):
    runners = []

    def start(devices, **options) -> FleetThread:
        user, password = autop_credentials
        options = {"poll_interval": 0.5, "reboot_seconds": 1.0, "install_seconds": 0.1, "mqtt": False, "seed": 5,
                   **options}
        fleet = Fleet(live_server.url, [DeviceSpec(d.mac, model="R29", firmware="29.30.2.805") for d in devices],
                      autop_user=user, autop_password=password, **options)
        runner = FleetThread(fleet).start()
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.stop()
