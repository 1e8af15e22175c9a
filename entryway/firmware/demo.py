"""Demo data for the Firmware and Update modules: a small catalog and one executed update."""
from __future__ import annotations

import datetime
import hashlib

from django.core.files.base import ContentFile
from django.utils import timezone

from entryway.deviceapi.services import action_record_result
from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
from entryway.firmware.models import Firmware, UpgradeTarget
from entryway.firmware.services import firmware_upload, strategy_create, strategy_start

MODELS = {"R29": "door_phone", "IT82": "indoor_monitor", "X916": "door_phone", "E11": "door_phone",
          "R28": "door_phone"}
CATALOG = [
    # version, model, version log, days ago
    ("111.31.1.102", "E11", "111.31.1.102", 600),
    ("28.31.1.209", "R28", "28.31.1.209", 560),
    ("82.30.2.622", "IT82", "82.30.2.622: calls from the app ring faster; Arabic keyboard.", 520),
    ("916.30.101.303", "X916", "916.30.101.303: face recognition at night improved.", 400),
    ("29.30.2.803", "R29", "29.30.2.803", 160),
    ("29.30.2.804", "R29", "29.30.2.804: relay timing fix.", 40),
    ("29.30.2.805", "R29", "29.30.2.805: SIP over TLS by default; security fixes.", 5),
]


def _image(version: str) -> bytes:
    """A small stand-in firmware image: a header and deterministic content, different per version."""
    seed = hashlib.sha256(version.encode()).digest()
    return b"ENTRYWAY-FW\x00" + version.encode() + b"\x00" + seed * 512


def _demo_devices(installer, residents, model) -> list[IntercomDevice]:
    devices = list(IntercomDevice.objects.filter(installer=installer, device_model=model,
                                                 last_seen_at__isnull=False)[:3])
    if devices or not residents:
        return devices
    from entryway.sip.choices import SipKind
    from entryway.sip.services import sip_account_create

    now = timezone.now()
    for i, location in enumerate(("Front gate", "Garage", "Back gate")):
        owner = residents[i % len(residents)]
        mac = f"0C11F0DE{i + 1:04X}"
        if IntercomDevice.objects.filter(mac=mac).exists():
            continue
        entry, _ = MacLibraryEntry.objects.get_or_create(mac=mac, defaults={"installer": installer})
        sip = sip_account_create(kind=SipKind.DEVICE, installer=installer, family_number=owner.family_sip,
                                 display_name=location)
        devices.append(IntercomDevice.objects.create(
            installer=installer, owner=owner, device_model=model, mac=mac, mac_entry=entry, location=location,
            sip_number=sip.number, firmware_version="29.30.2.804" if i else "29.30.2.803",
            last_seen_at=now - datetime.timedelta(seconds=30), reported_model=model.name))
    return devices


def seed(ctx) -> None:
    admin, installer = ctx["admin"], ctx["installer"]
    models = {name: DeviceModel.objects.get_or_create(name=name, defaults={"device_type": kind})[0]
              for name, kind in MODELS.items()}
    now = timezone.now()
    for version, model, log, days in CATALOG:
        if Firmware.objects.filter(version=version).exists():
            continue
        fw = firmware_upload(acting_user=admin, file=ContentFile(_image(version), name=f"{model}_{version}.rom"),
                             version=version, device_models=[models[model]], version_log=log)
        Firmware.objects.filter(pk=fw.pk).update(created_at=now - datetime.timedelta(days=days))

    residents = [r for r in ctx["residents"] if r.installer_id == installer.pk]
    devices = _demo_devices(installer, residents, models["R29"])
    if not devices or UpgradeTarget.objects.filter(device__in=devices).exists():
        return
    # One update that ran: every device reported downloading, installing and success.
    strategy = strategy_create(acting_user=installer, firmware=Firmware.objects.get(version="29.30.2.805"),
                               device_ids=[d.pk for d in devices], upgrade_right_now=True)
    strategy_start(strategy_id=strategy.pk)
    for target in UpgradeTarget.objects.filter(strategy=strategy, action__isnull=False).select_related("action"):
        for status, stage in (("proceeding", "downloading"), ("proceeding", "installing"), ("success", "")):
            action_record_result(action=target.action, status=status, stage=stage)
