"""Demo data of the device protocol: AutoP credentials, a device's Settings, a few actions with results."""
from __future__ import annotations

from entryway.deviceapi.services import (
    action_record_result,
    autop_credential_get_or_create,
    device_once_autop,
    device_reboot,
    device_settings_update,
)
from entryway.devices.models import IntercomDevice


def seed(ctx) -> None:
    installer = ctx["installer"]
    for account in (installer, ctx.get("installer2")):
        if account is not None:
            autop_credential_get_or_create(installer=account)
    device = IntercomDevice.objects.filter(installer=installer, device_model__device_type="door_phone") \
        .order_by("created_at", "id").first()
    if device is None:
        return
    device_settings_update(acting_user=installer, device=device, connect_type="tcp",
                           autop_commands="# 24-hour clock on the display\nConfig.Settings.DATETIME.TimeFormat = 1")
    reboot = device_reboot(acting_user=installer, device=device)
    action_record_result(action=reboot, status="success", detail="rebooted")
    once = device_once_autop(acting_user=installer, device=device, commands="Config.Settings.DATETIME.DateFormat = 2")
    action_record_result(action=once, status="success", detail="applied 1 line")
