"""Households with indoor monitors and app logins, for the Message module's tests."""
from __future__ import annotations

import itertools
import secrets

import pytest

_macs = itertools.count(0x0C1105000001)


@pytest.fixture
def make_device(db):
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry

    def make(resident, *, location="Living room", device_type="indoor_monitor", model_name=None):
        model_name = model_name or {"indoor_monitor": "C315", "door_phone": "R29"}.get(device_type, "X916")
        model, _ = DeviceModel.objects.get_or_create(name=model_name, defaults={"device_type": device_type})
        mac = f"{next(_macs):012X}"
        entry = MacLibraryEntry.objects.create(mac=mac, installer=resident.installer)
        return IntercomDevice.objects.create(
            installer=resident.installer, owner=resident, device_model=model, mac=mac, mac_entry=entry,
            location=location, sip_number=f"77{mac[-8:]}", device_secret=secrets.token_hex(16),
        )

    return make


@pytest.fixture
def household(make_resident, activate, installer, make_device):
    """Ryan (host with an app login), his family member Lily (app login) and Max (no login),
    two indoor monitors and a door phone."""
    from entryway.residents.services import family_member_create

    ryan = activate(make_resident(installer, name="Ryan", email="ryan@example.com", language="fr"))
    lily = family_member_create(acting_user=installer, resident=ryan, name="Lily", email="lily@example.com")
    max_ = family_member_create(acting_user=installer, resident=ryan, name="Max")
    kitchen = make_device(ryan, location="Kitchen")
    hall = make_device(ryan, location="Hall")
    door = make_device(ryan, location="Gate", device_type="door_phone")
    return {"resident": ryan, "lily": lily, "max": max_, "kitchen": kitchen, "hall": hall, "door": door}


@pytest.fixture
def resident_client(client):
    def login(account):
        client.force_login(account)
        return client

    return login
