"""Remote maintenance and batch AutoP in the user API (the device protocol itself is not here)."""
from __future__ import annotations

import datetime
from typing import Annotated, Literal

from ninja import Field, Path, Router, Schema, Status

from entryway.api.auth import auth_for, installer_auth
from entryway.api.schemas import COMMON_ERRORS
from entryway.core.access import get_visible_or_404, require_editable
from entryway.deviceapi import services
from entryway.deviceapi.models import DeviceAction
from entryway.devices.models import IntercomDevice

router = Router(tags=["Remote maintenance"])
portal_auth = auth_for("installer", "distributor", "admin")
DeviceId = Annotated[int, Field(ge=1, le=2**53)]
PathId = Path(..., ge=1, le=2**53, description="A device id")
Commands = Annotated[str, Field(max_length=20000, description="AutoP commands, one per line: "
                                                              "Config.<Module>.<Section>.<Key> = value; # comments")]


class ActionOut(Schema):
    id: int
    kind: Literal["reboot", "autop", "upgrade", "message", "remote_control"]
    status: Literal["pending", "sent", "proceeding", "success", "failure", "expired", "cancelled"]
    stage: str
    detail: str
    payload: dict
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    expires_at: datetime.datetime | None


class SettingsIn(Schema):
    connect_type: Literal["tcp", "udp", "tls"] = Field(..., description="Connect Type: the SIP transport")
    autop_commands: Commands = Field("", description="Others: Regular AutoP commands of this device")


class SettingsOut(Schema):
    id: int
    mac: str
    connect_type: str
    autop_commands: str


class OnceAutopIn(Schema):
    commands: Commands


class BatchAutopIn(Schema):
    mode: Literal["regular", "once"] = Field(..., description="Regular AutoP (kept) or One Time AutoP (once)")
    commands: Commands = ""
    device_ids: list[DeviceId] = Field(..., max_length=100000, description="At most 500 of your devices")


class BatchAutopOut(Schema):
    count: int


def _device(request, device_id: int, *, edit: bool = False) -> IntercomDevice:
    device = get_visible_or_404(IntercomDevice, request.auth, pk=device_id)
    if edit:
        require_editable(request.auth, device)
    return device


@router.get("/devices/{device_id}/actions", auth=portal_auth, response={200: list[ActionOut], **COMMON_ERRORS},
            summary="A device's recent actions (reboots, AutoP, upgrades, messages) and their results")
def list_actions(request, device_id: int = PathId):
    device = _device(request, device_id)
    return Status(200, list(DeviceAction.objects.filter(device=device).order_by("-created_at", "-id")[:50]))


@router.post("/devices/{device_id}/reboot", auth=installer_auth, response={201: ActionOut, **COMMON_ERRORS},
             summary="Reboot: the device restarts at its next check-in (at once over MQTT)")
def reboot(request, device_id: int = PathId):
    return Status(201, services.device_reboot(acting_user=request.auth, device=_device(request, device_id, edit=True)))


@router.post("/devices/{device_id}/once-autop", auth=installer_auth, response={201: ActionOut, **COMMON_ERRORS},
             summary="Once Autop: commands the device applies one time and confirms")
def once_autop(request, data: OnceAutopIn, device_id: int = PathId):
    device = _device(request, device_id, edit=True)
    return Status(201, services.device_once_autop(acting_user=request.auth, device=device, commands=data.commands))


@router.put("/devices/{device_id}/settings", auth=installer_auth, response={200: SettingsOut, **COMMON_ERRORS},
            summary="Settings: Connect Type and the Others (Regular AutoP) commands")
def update_settings(request, data: SettingsIn, device_id: int = PathId):
    device = _device(request, device_id, edit=True)
    device = services.device_settings_update(acting_user=request.auth, device=device,
                                             connect_type=data.connect_type, autop_commands=data.autop_commands)
    return Status(200, device)


@router.post("/autop/batch", auth=installer_auth, response={200: BatchAutopOut, **COMMON_ERRORS},
             summary="Batch AutoP: Regular or One Time AutoP for up to 500 devices")
def batch_autop(request, data: BatchAutopIn):
    count = services.autop_batch_apply(acting_user=request.auth, mode=data.mode, commands=data.commands,
                                       device_ids=data.device_ids)
    return Status(200, {"count": count})
