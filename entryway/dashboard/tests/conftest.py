import pytest


@pytest.fixture
def make_device(installer):
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
    from entryway.sip.choices import SipKind
    from entryway.sip.services import sip_account_create

    counter = {"n": 0}

    def make(owner, model="R29", device_type="door_phone", last_seen=None, version="29.30.2.805"):
        counter["n"] += 1
        dm, _ = DeviceModel.objects.get_or_create(name=model, defaults={"device_type": device_type})
        mac = f"0C11050000{counter['n']:02X}"
        entry = MacLibraryEntry.objects.create(mac=mac, installer=owner.installer)
        sip = sip_account_create(kind=SipKind.DEVICE, installer=owner.installer, family_number=owner.family_sip)
        return IntercomDevice.objects.create(installer=owner.installer, owner=owner, device_model=dm, mac=mac,
                                             mac_entry=entry, location=f"Gate {counter['n']}",
                                             sip_number=sip.number, last_seen_at=last_seen, firmware_version=version)

    return make
