"""Devices, firmware files and strategies for the Firmware and Update modules' tests."""
from __future__ import annotations

import datetime
import itertools
import secrets

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

_macs = itertools.count(0x0C11F1000001)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_BASE_URL = "http://testserver"
    return settings.MEDIA_ROOT


@pytest.fixture
def device_model(db):
    from entryway.devices.models import DeviceModel

    def get(name="R29", device_type="door_phone"):
        return DeviceModel.objects.get_or_create(name=name, defaults={"device_type": device_type})[0]

    return get


@pytest.fixture
def make_device(db, device_model, make_resident):
    from entryway.devices.models import IntercomDevice, MacLibraryEntry

    owners = {}

    def make(installer, *, model="R29", version="29.30.2.800", location=None, seen=True, owner=None):
        if owner is None:
            owner = owners.get(installer.pk) or make_resident(installer, name=f"Owner of {installer.username}")
            owners[installer.pk] = owner
        mac = f"{next(_macs):012X}"
        entry = MacLibraryEntry.objects.create(mac=mac, installer=installer)
        return IntercomDevice.objects.create(
            installer=installer, owner=owner, device_model=device_model(model), mac=mac, mac_entry=entry,
            location=location or f"Gate {mac[-4:]}", sip_number=f"78{mac[-8:]}", device_secret=secrets.token_hex(16),
            firmware_version=version, last_seen_at=timezone.now() if seen else None,
        )

    return make


@pytest.fixture
def make_firmware(db, admin_account, device_model):
    from entryway.firmware.services import firmware_upload

    def make(version="29.30.2.805", models=("R29",), content=None, log=""):
        data = content if content is not None else f"firmware {version} ".encode() * 64
        return firmware_upload(acting_user=admin_account, file=ContentFile(data, name=f"{version}.rom"),
                               version=version, device_models=[device_model(m) for m in models],
                               version_log=log or f"{version} release notes")

    return make


@pytest.fixture
def later():
    return timezone.now() + datetime.timedelta(hours=2)
