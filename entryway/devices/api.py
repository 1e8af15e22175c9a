"""The MAC Library, intercom devices (with relays) and third-party cameras in the user API.

Camera passwords never appear in lists; a camera's detail gives it back to its own installer only.
"""
from __future__ import annotations

import datetime
from typing import Literal

from django.conf import settings
from django.http import Http404
from ninja import Field, File, Path, Query, Router, Schema, Status, UploadedFile

from entryway.api.auth import installer_auth
from entryway.api.schemas import COMMON_ERRORS, Error, Page, paginate_queryset
from entryway.core.access import get_visible_or_404
from entryway.devices import selectors, services
from entryway.devices.models import IntercomDevice, MacLibraryEntry, ThirdPartyCamera
from entryway.residents.models import Resident

router = Router(tags=["Devices"])

MAX_ID = 2**63 - 1


def _check_id(value: int) -> None:
    if not 1 <= value <= MAX_ID:
        raise Http404


# ---------------------------------------------------------------------------------------------
# Schemas


class MacOut(Schema):
    id: int
    mac: str = Field(..., description="12 upper-case hexadecimal digits")
    bound: bool
    device_id: int | None = Field(None, description="The device the MAC is bound to")
    owner_id: int | None = Field(None, description="The user owning that device")
    owner_name: str | None = None
    created_at: datetime.datetime


class MacIn(Schema):
    mac: str = Field(..., max_length=40, description="0C110512BC97, 0C:11:05:12:BC:97 or 0c-11-05-12-bc-97")


class MacListQuery(Schema):
    q: str = Field("", max_length=64, description="Any part of a MAC, with or without separators")
    bound: Literal["", "bound", "free"] = ""
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class ImportRowOut(Schema):
    row: int
    value: str
    result: str = Field(..., description="added, duplicate or invalid")
    message: str


class ImportOut(Schema):
    id: int
    status: str = Field(..., description="pending, running, done or failed")
    total: int
    processed: int
    added: int
    duplicates: int
    invalid: int
    rows: list[ImportRowOut] = Field(..., description="Row by row, once done (empty while it runs)")


class RelayIn(Schema):
    index: int | None = Field(None, ge=1, le=4, description="1–4; the position in the list when left out")
    enabled: bool = False
    name: str = Field("", max_length=200, description="Relay Name, required when enabled")
    dtmf_code: str = Field("", max_length=40, description="1 to 4 of the keys 0-9, * and #")


class RelayOut(Schema):
    index: int
    enabled: bool
    name: str
    dtmf_code: str


class DeviceOut(Schema):
    id: int
    mac: str
    owner_id: int
    owner_name: str
    sip_number: str
    location: str
    device_model: str = Field(..., description="Model name, e.g. R29")
    device_type: str = Field(..., description="door_phone, indoor_monitor, access_control or guard_phone")
    security_relay: bool
    status: str = Field(..., description="online or offline")
    last_seen_at: datetime.datetime | None = Field(None, description="Last Connected Time")
    firmware_version: str
    relays: list[RelayOut]
    created_at: datetime.datetime


class DeviceIn(Schema):
    owner_id: int = Field(..., ge=1, le=MAX_ID, description="The user (resident) the device belongs to")
    device_model: str = Field(..., max_length=32, description="A catalog model name, e.g. R29, IT82")
    mac: str = Field(..., max_length=40, description="A free MAC of the installer's MAC Library")
    location: str = Field(..., max_length=200)
    relays: list[RelayIn] = Field(default_factory=list, description="At most four")
    security_relay: bool = Field(False, description="An SR01 security relay is connected")


class DevicePut(Schema):
    device_model: str = Field(..., max_length=32)
    mac: str = Field(..., max_length=40)
    location: str = Field(..., max_length=200)
    relays: list[RelayIn] = Field(default_factory=list)
    security_relay: bool = False


class DevicePatch(Schema):
    device_model: str | None = Field(None, max_length=32)
    mac: str | None = Field(None, max_length=40, description="Another free MAC of the library")
    location: str | None = Field(None, max_length=200)
    relays: list[RelayIn] | None = Field(None, description="Replaces all relays when given")
    security_relay: bool | None = None


class DeviceListQuery(Schema):
    q: str = Field("", max_length=64, description="MAC, Location, SIP or Owner")
    owner_id: int | None = Field(None, ge=1, le=MAX_ID)
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class DeleteQuery(Schema):
    delete_mac: bool = Field(False, description="Also delete the device's MAC from the MAC Library")


class CameraOut(Schema):
    id: int
    owner_id: int
    owner_name: str
    location: str
    rtsp_url: str
    username: str
    link_device_id: int | None
    created_at: datetime.datetime


class CameraDetailOut(CameraOut):
    password: str


class CameraIn(Schema):
    owner_id: int = Field(..., ge=1, le=MAX_ID, description="The user; needs the Premium Plan")
    location: str = Field(..., max_length=200)
    rtsp_url: str = Field(..., max_length=300, description="rtsp://ip:port or rtsp://domain:port, optional path")
    username: str = Field(..., max_length=200)
    password: str = Field(..., max_length=200)
    link_device_id: int | None = Field(None, ge=1, le=MAX_ID, description="One of the owner's intercom devices")


class CameraPut(Schema):
    location: str = Field(..., max_length=200)
    rtsp_url: str = Field(..., max_length=300)
    username: str = Field(..., max_length=200)
    password: str = Field(..., max_length=200)
    link_device_id: int | None = Field(None, ge=1, le=MAX_ID)


class CameraPatch(Schema):
    location: str | None = Field(None, max_length=200)
    rtsp_url: str | None = Field(None, max_length=300)
    username: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=200)
    link_device_id: int | None = Field(None, ge=1, le=MAX_ID)


class CameraListQuery(Schema):
    q: str = Field("", max_length=64, description="Location")
    owner_id: int | None = Field(None, ge=1, le=MAX_ID)
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


# ---------------------------------------------------------------------------------------------
# Helpers


def _mac_out(entry: MacLibraryEntry) -> dict:
    try:
        device = entry.device
    except IntercomDevice.DoesNotExist:
        device = None
    return {"id": entry.pk, "mac": entry.mac, "bound": device is not None,
            "device_id": device.pk if device else None, "owner_id": device.owner_id if device else None,
            "owner_name": device.owner.name if device else None, "created_at": entry.created_at}


def _device_out(d: IntercomDevice) -> dict:
    return {
        "id": d.pk, "mac": d.mac, "owner_id": d.owner_id, "owner_name": d.owner.name, "sip_number": d.sip_number,
        "location": d.location, "device_model": d.device_model.name, "device_type": d.device_model.device_type,
        "security_relay": d.security_relay, "status": "online" if d.is_online else "offline",
        "last_seen_at": d.last_seen_at, "firmware_version": d.firmware_version, "created_at": d.created_at,
        "relays": [{"index": r.index, "enabled": r.enabled, "name": r.name, "dtmf_code": r.dtmf_code}
                   for r in d.relays.all()],
    }


def _camera_out(c: ThirdPartyCamera, *, with_password: bool = False) -> dict:
    out = {"id": c.pk, "owner_id": c.owner_id, "owner_name": c.owner.name, "location": c.location,
           "rtsp_url": c.rtsp_url, "username": c.username, "link_device_id": c.link_device_id,
           "created_at": c.created_at}
    if with_password:
        out["password"] = c.password
    return out


def _relays(items) -> list[dict]:
    return [r.dict() if hasattr(r, "dict") else r for r in items]


def _device(request, device_id: int) -> IntercomDevice:
    _check_id(device_id)
    return get_visible_or_404(IntercomDevice.objects.select_related("owner", "device_model"), request.auth,
                              pk=device_id)


def _camera(request, camera_id: int) -> ThirdPartyCamera:
    _check_id(camera_id)
    return get_visible_or_404(ThirdPartyCamera.objects.select_related("owner"), request.auth, pk=camera_id)


def _resident(request, resident_id: int) -> Resident:
    _check_id(resident_id)
    return get_visible_or_404(Resident, request.auth, pk=resident_id)


def _fresh_device(pk: int) -> IntercomDevice:
    return IntercomDevice.objects.select_related("owner", "device_model").prefetch_related("relays").get(pk=pk)


# ---------------------------------------------------------------------------------------------
# MAC Library


@router.get("/mac-library", auth=installer_auth, response={200: Page[MacOut], **COMMON_ERRORS},
            summary="List the MAC Library (search by MAC, bound or not)")
def list_macs(request, query: Query[MacListQuery]):
    qs = selectors.mac_list(request.auth, q=query.q, bound=query.bound)
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_mac_out(e) for e in items]})


@router.post("/mac-library", auth=installer_auth, response={201: MacOut, **COMMON_ERRORS},
             summary="Add a MAC to the MAC Library")
def add_mac(request, data: MacIn):
    entry = services.mac_add(acting_user=request.auth, mac=data.mac)
    return Status(201, _mac_out(entry))


@router.post("/mac-library/import", auth=installer_auth, response={200: ImportOut, 202: ImportOut, 413: Error,
                                                                   **COMMON_ERRORS},
             summary="Import MACs from an .xlsx or .csv file (column A headed MAC)",
             description="Small files are imported at once (200, with the row-by-row report); larger ones run "
                         "in the background (202): follow them in the portal's MAC Library.")
def import_macs(request, file: File[UploadedFile]):
    from django.db import transaction

    limit = settings.MAC_IMPORT_MAX_MB * 1024 * 1024
    if file.size > limit:
        return Status(413, {"detail": f"The file is larger than {settings.MAC_IMPORT_MAX_MB} MB."})
    data = file.read()
    job = services.mac_import_start(acting_user=request.auth, data=data, file_name=file.name or "")
    if len(data) <= settings.MAC_IMPORT_INLINE_MAX_BYTES:
        job = services.mac_import_run(import_id=job.pk)
        return Status(200, _import_out(job))
    from entryway.devices.tasks import mac_import_task

    job_id = job.pk
    transaction.on_commit(lambda: mac_import_task(job_id))
    return Status(202, _import_out(job))


def _import_out(job) -> dict:
    return {"id": job.pk, "status": job.status, "total": job.total, "processed": job.processed, "added": job.added,
            "duplicates": job.duplicates, "invalid": job.invalid,
            "rows": [{"row": r, "value": v, "result": res, "message": m} for r, v, res, m in (job.report or [])]}


@router.delete("/mac-library/{mac}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Remove a MAC from the MAC Library (refused while bound to a device: unbind it first)")
def remove_mac(request, mac: str = Path(..., max_length=40)):
    value = selectors.parse_mac_or_none(mac)
    if value is None:
        raise Http404
    entry = get_visible_or_404(MacLibraryEntry.objects.filter(installer=request.auth), request.auth, mac=value)
    services.mac_remove(acting_user=request.auth, entry=entry)
    return Status(204, None)


# ---------------------------------------------------------------------------------------------
# Devices


@router.get("/devices", auth=installer_auth, response={200: Page[DeviceOut], **COMMON_ERRORS},
            summary="List intercom devices (search by MAC, Location, SIP or Owner)")
def list_devices(request, query: Query[DeviceListQuery]):
    owner = _resident(request, query.owner_id) if query.owner_id else None
    qs = selectors.device_list(request.auth, q=query.q, owner=owner).prefetch_related("relays")
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_device_out(d) for d in items]})


@router.post("/devices", auth=installer_auth, response={201: DeviceOut, **COMMON_ERRORS},
             summary="Add an intercom device for a user, with its relays")
def create_device(request, data: DeviceIn):
    owner = _resident(request, data.owner_id)
    device = services.device_create(acting_user=request.auth, owner=owner, device_model=data.device_model,
                                    mac=data.mac, location=data.location, relays=_relays(data.relays),
                                    security_relay=data.security_relay)
    return Status(201, _device_out(_fresh_device(device.pk)))


@router.get("/devices/{device_id}", auth=installer_auth, response={200: DeviceOut, **COMMON_ERRORS},
            summary="An intercom device with its relays")
def get_device(request, device_id: int = Path(...)):
    return Status(200, _device_out(_fresh_device(_device(request, device_id).pk)))


@router.put("/devices/{device_id}", auth=installer_auth, response={200: DeviceOut, **COMMON_ERRORS},
            summary="Replace a device's Device Type, MAC, Location, relays and security relay")
def replace_device(request, data: DevicePut, device_id: int = Path(...)):
    device = _device(request, device_id)
    values = data.dict()
    values["relays"] = _relays(data.relays)
    services.device_update(acting_user=request.auth, device=device, **values)
    return Status(200, _device_out(_fresh_device(device.pk)))


@router.patch("/devices/{device_id}", auth=installer_auth, response={200: DeviceOut, **COMMON_ERRORS},
              summary="Change some of a device's settings")
def update_device(request, data: DevicePatch, device_id: int = Path(...)):
    device = _device(request, device_id)
    values = {k: v for k, v in data.dict(exclude_unset=True).items() if v is not None}
    if data.relays is not None:
        values["relays"] = _relays(data.relays)
    services.device_update(acting_user=request.auth, device=device, **values)
    return Status(200, _device_out(_fresh_device(device.pk)))


@router.delete("/devices/{device_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete a device (its SIP number stops registering); optionally delete its MAC too")
def delete_device(request, query: Query[DeleteQuery], device_id: int = Path(...)):
    services.device_delete(acting_user=request.auth, device=_device(request, device_id),
                           delete_mac=query.delete_mac)
    return Status(204, None)


# ---------------------------------------------------------------------------------------------
# Cameras


@router.get("/cameras", auth=installer_auth, response={200: Page[CameraOut], **COMMON_ERRORS},
            summary="List third-party cameras (search by Location). Passwords are never listed.")
def list_cameras(request, query: Query[CameraListQuery]):
    owner = _resident(request, query.owner_id) if query.owner_id else None
    qs = selectors.camera_list(request.auth, q=query.q, owner=owner)
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_camera_out(c) for c in items]})


@router.post("/cameras", auth=installer_auth, response={201: CameraOut, **COMMON_ERRORS},
             summary="Add a third-party camera (the owner needs the Premium Plan)")
def create_camera(request, data: CameraIn):
    owner = _resident(request, data.owner_id)
    values = data.dict()
    values.pop("owner_id")
    values["link_device"] = values.pop("link_device_id")
    camera = services.camera_create(acting_user=request.auth, owner=owner, **values)
    return Status(201, _camera_out(camera))


@router.get("/cameras/{camera_id}", auth=installer_auth, response={200: CameraDetailOut, **COMMON_ERRORS},
            summary="A camera, with its password (for its own installer only)")
def get_camera(request, camera_id: int = Path(...)):
    camera = _camera(request, camera_id)
    return Status(200, _camera_out(camera, with_password=camera.installer_id == request.auth.pk))


@router.put("/cameras/{camera_id}", auth=installer_auth, response={200: CameraOut, **COMMON_ERRORS},
            summary="Replace a camera's settings")
def replace_camera(request, data: CameraPut, camera_id: int = Path(...)):
    values = data.dict()
    values["link_device"] = values.pop("link_device_id")
    camera = services.camera_update(acting_user=request.auth, camera=_camera(request, camera_id), **values)
    return Status(200, _camera_out(camera))


@router.patch("/cameras/{camera_id}", auth=installer_auth, response={200: CameraOut, **COMMON_ERRORS},
              summary="Change some of a camera's settings")
def update_camera(request, data: CameraPatch, camera_id: int = Path(...)):
    values = data.dict(exclude_unset=True)
    if "link_device_id" in values:
        values["link_device"] = values.pop("link_device_id")
    values = {k: v for k, v in values.items() if v is not None or k == "link_device"}
    camera = services.camera_update(acting_user=request.auth, camera=_camera(request, camera_id), **values)
    return Status(200, _camera_out(camera))


@router.delete("/cameras/{camera_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete a camera")
def delete_camera(request, camera_id: int = Path(...)):
    services.camera_delete(acting_user=request.auth, camera=_camera(request, camera_id))
    return Status(204, None)
