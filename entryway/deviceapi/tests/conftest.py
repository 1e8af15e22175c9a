"""Devices wired up as the device protocol sees them: SIP account, relays, owner's time zone."""
from __future__ import annotations

import base64
import itertools
import os
import secrets

import pytest
from django.core.cache import cache

from entryway.deviceapi import devicecache

_macs = itertools.count(0x0C11DA000001)


@pytest.fixture(autouse=True)
def protocol_settings(settings):
    settings.PUBLIC_BASE_URL = "https://cloud.example.com"
    settings.SIP_SERVER = ""
    settings.SIP_DOMAIN = "sip.example.com"
    settings.SIP_PORT = 5060
    settings.MQTT_URL = ""
    settings.MQTT_DYNSEC = False
    settings.DEVICE_POLL_INTERVAL = 60
    from django.core.cache import cache

    cache.clear()
    return settings


@pytest.fixture
def device_model(db):
    from entryway.devices.models import DeviceModel

    def get(name="R29", device_type="door_phone"):
        return DeviceModel.objects.get_or_create(name=name, defaults={"device_type": device_type})[0]

    return get


@pytest.fixture
def make_device(db, device_model, make_resident):
    from entryway.devices.models import IntercomDevice, MacLibraryEntry
    from entryway.sip.choices import SipKind
    from entryway.sip.services import sip_account_create

    owners = {}

    def make(installer, *, model="R29", device_type="door_phone", location=None, owner=None, relays=(), **extra):
        if owner is None:
            owner = owners.get(installer.pk) or make_resident(installer, name=f"Owner of {installer.username}",
                                                              time_zone="Europe/Berlin")
            owners[installer.pk] = owner
        mac = f"{next(_macs):012X}"
        entry = MacLibraryEntry.objects.create(mac=mac, installer=installer)
        account = sip_account_create(kind=SipKind.DEVICE, installer=installer)
        device = IntercomDevice.objects.create(
            installer=installer, owner=owner, device_model=device_model(model, device_type), mac=mac,
            mac_entry=entry, location=location or f"Gate {mac[-4:]}", sip_number=account.number, **extra)
        for index, name, code in relays:
            device.relays.create(index=index, enabled=True, name=name, dtmf_code=code)
        device.refresh_from_db()
        return device

    return make


@pytest.fixture
def device(make_device, installer):
    return make_device(installer, location="Gate", relays=[(1, "Front door", "#"), (2, "Garage", "2")])


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def device_headers(device):
    return basic(device.mac, device.device_secret)


@pytest.fixture
def redis_cache(settings):
    """The production cache backend on the machine's Redis (REDIS_URL), under a key prefix of the test's own."""
    settings.CACHES = {"default": {
        "BACKEND": "entryway.core.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": f"test-seen-{secrets.token_hex(4)}",
    }}
    settings.DEVICE_LAST_SEEN_WRITE_INTERVAL = 30
    assert hasattr(cache, "run_script"), "the Redis cache backend is in use"
    # A flush just ran: the tests flush the queue themselves.
    cache.set(devicecache.SEEN_FLUSH_LOCK, 1, 3600)
    yield cache
    cache.delete_many([devicecache.SEEN_KEY, devicecache.SEEN_FLUSH_LOCK])
