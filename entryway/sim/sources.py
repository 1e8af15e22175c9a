"""Where a fleet's devices come from: a MAC list file, or the platform's own database (demo)."""
from __future__ import annotations

import os
import pathlib

from entryway.sim.device import DEFAULT_MODEL, DeviceSpec
from entryway.sim.fleet import normalise_mac


def specs_from_file(path: str | os.PathLike) -> list[DeviceSpec]:
    """One device a line: ``MAC[,secret[,model[,firmware]]]`` (commas or spaces; ``#`` comments).

    An empty secret means the device provisions with the installer AutoP credentials.
    """
    specs = []
    for number, raw in enumerate(pathlib.Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in (line.split(",") if "," in line else line.split())]
        try:
            mac = normalise_mac(fields[0])
        except ValueError:
            raise ValueError(f"{path}, line {number}: not a MAC address: {fields[0]!r}") from None
        specs.append(DeviceSpec(
            mac=mac,
            secret=fields[1] if len(fields) > 1 else "",
            model=(fields[2] if len(fields) > 2 and fields[2] else DEFAULT_MODEL),
            firmware=fields[3] if len(fields) > 3 else "",
        ))
    return specs


def specs_from_db(*, installer: str = "", count: int | None = None) -> list[DeviceSpec]:
    """The devices in the local database (``DJANGO_SETTINGS_MODULE``, default the embedded settings).

    Each device gets its installer's AutoP credentials (made on first need, as the Setting module
    does) and the model and firmware the platform knows for it, so it provisions like a new device.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from entryway.deviceapi.services import autop_credential_get_or_create
    from entryway.devices.models import IntercomDevice

    devices = IntercomDevice.objects.select_related("device_model", "installer").order_by("installer_id", "id")
    if installer:
        devices = devices.filter(installer__username=installer)
    if count is not None:
        devices = devices[:count]
    credentials = {}
    specs = []
    for device in devices:
        if device.installer_id not in credentials:
            credential = autop_credential_get_or_create(installer=device.installer)
            credentials[device.installer_id] = (credential.username, credential.password)
        user, password = credentials[device.installer_id]
        specs.append(DeviceSpec(
            mac=device.mac,
            model=device.reported_model or device.device_model.name,
            firmware=device.firmware_version,
            ip=device.ip_address or "",
            autop_user=user,
            autop_password=password,
        ))
    from django.db import connections

    connections.close_all()
    return specs
