"""Firmware and update strategies in the user API."""
from __future__ import annotations

import datetime
import zoneinfo
from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from entryway.api.auth import auth_for, installer_auth
from entryway.api.schemas import COMMON_ERRORS, Page, paginate_queryset
from entryway.core.access import get_visible_or_404
from entryway.devices.models import DeviceModel
from entryway.firmware import selectors, services
from entryway.firmware.choices import StatusFilter
from entryway.firmware.models import UpdateStrategy, UpgradeTarget

router = Router(tags=["Firmware"])
portal_auth = auth_for("installer", "distributor", "admin")

DeviceId = Annotated[int, Field(ge=1, le=2**53)]
Percent = Annotated[int, Field(ge=0, le=100)]


class FirmwareOut(Schema):
    id: int
    version: str
    models: list[str]
    version_log: str
    filename: str
    size: int
    sha256: str
    created_at: datetime.datetime


class FirmwareQuery(Schema):
    model: str = Field("", max_length=32, description="Only firmware for this model (name, e.g. R29)")
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class StrategyIn(Schema):
    firmware_id: int = Field(..., ge=1, le=2**53, description="The version to upgrade to (a firmware id)")
    model: str | None = Field(None, max_length=32,
                              description="Model name (e.g. R29); needed when the firmware is for several models")
    device_ids: list[DeviceId] = Field(default_factory=list, max_length=20000,
                                       description="The installer's connected devices of that model")
    all_devices: bool = Field(False, description="Every connected device of the model instead of device_ids")
    upgrade_right_now: bool = Field(False, description="Start at once instead of at scheduled_at")
    scheduled_at: datetime.datetime | None = Field(
        None, description="Upgrade Time (ISO 8601); without an offset it is read in the installer's time zone")
    waves: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=list, max_length=10, description="Staged rollout: cumulative percentages, e.g. [10, 50, 100]")
    success_threshold: Percent = Field(80, description="% of a wave's devices that must succeed before the next")
    error_threshold: Percent | None = Field(None, description="% of a wave's devices failing that pauses the update")


class StrategyPatch(Schema):
    firmware_id: int | None = Field(None, ge=1, le=2**53)
    model: str | None = Field(None, max_length=32)
    device_ids: list[DeviceId] | None = Field(None, max_length=20000)
    all_devices: bool | None = None
    upgrade_right_now: bool | None = None
    scheduled_at: datetime.datetime | None = None
    waves: list[Annotated[int, Field(ge=1, le=100)]] | None = Field(None, max_length=10)
    success_threshold: Percent | None = None
    error_threshold: Percent | None = None


class StrategyOut(Schema):
    id: int
    version: str
    firmware_id: int
    model: str
    device: str = Field(..., description="The Device column: a location, or the model and device count")
    device_count: int
    status: Literal["pending", "processing", "paused", "executed", "cancelled"]
    upgrade_right_now: bool
    upgrade_time: datetime.datetime
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    waves: list[int]
    current_wave: int = Field(..., description="0-based; -1 before the start")
    success_threshold: int
    error_threshold: int | None
    pause_reason: str


class TargetOut(Schema):
    device_id: int | None
    mac: str
    location: str
    wave: int
    from_version: str
    state: Literal["waiting", "downloading", "installing", "succeeded", "failed", "not_reached", "skipped",
                   "cancelled"]
    detail: str
    attempts: int
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None


class StrategyDetailOut(StrategyOut):
    counts: dict[str, int]
    devices: Page[TargetOut]


class StrategyQuery(Schema):
    status: Literal["all", "pending", "processing", "executed"] = "all"
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class DetailQuery(Schema):
    state: Literal["", "waiting", "downloading", "installing", "succeeded", "failed", "not_reached", "skipped",
                   "cancelled"] = Field("", description="Only devices in this state")
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(100, ge=1, le=1000)


class RetryOut(Schema):
    retried: int
    strategy: StrategyOut


def _firmware(fw) -> dict:
    return {"id": fw.pk, "version": fw.version, "models": [m.name for m in fw.device_models.all()],
            "version_log": fw.version_log, "filename": fw.filename, "size": fw.size, "sha256": fw.sha256,
            "created_at": fw.created_at}


def _strategy(s: UpdateStrategy) -> dict:
    return {
        "id": s.pk, "version": s.version, "firmware_id": s.firmware_id, "model": s.device_model.name,
        "device": s.device_label, "device_count": s.device_count, "status": s.status,
        "upgrade_right_now": s.upgrade_right_now, "upgrade_time": s.scheduled_at, "created_at": s.created_at,
        "started_at": s.started_at, "finished_at": s.finished_at, "waves": s.waves or [100],
        "current_wave": s.current_wave, "success_threshold": s.success_threshold,
        "error_threshold": s.error_threshold, "pause_reason": s.pause_reason,
    }


def _target(t: UpgradeTarget) -> dict:
    return {"device_id": t.device_id, "mac": t.mac, "location": t.location, "wave": t.wave,
            "from_version": t.from_version, "state": t.state, "detail": t.detail, "attempts": t.attempts,
            "started_at": t.started_at, "finished_at": t.finished_at}


def _detail(s: UpdateStrategy, query: DetailQuery | None = None) -> dict:
    query = query or DetailQuery()
    counts = services.strategy_counts(s)
    count, items = paginate_queryset(selectors.strategy_targets(s, state=query.state), query.page, query.per_page)
    return {**_strategy(s), "counts": counts,
            "devices": {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_target(t) for t in items]}}


def _aware(value: datetime.datetime | None, user) -> datetime.datetime | None:
    if value is None or timezone.is_aware(value):
        return value
    try:
        zone = zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    return timezone.make_aware(value, zone)


def _get(request, strategy_id: int) -> UpdateStrategy:
    return get_visible_or_404(UpdateStrategy.objects.select_related("device_model"), request.auth, pk=strategy_id)


@router.get("/firmware", auth=portal_auth, response={200: Page[FirmwareOut], **COMMON_ERRORS},
            summary="The firmware catalog, newest first")
def list_firmware(request, query: Query[FirmwareQuery]):
    model = DeviceModel.objects.filter(name__iexact=query.model).first() if query.model else None
    if query.model and model is None:
        return Status(200, {"count": 0, "page": query.page, "per_page": query.per_page, "items": []})
    count, items = paginate_queryset(selectors.firmware_list(request.auth, model=model), query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_firmware(f) for f in items]})


@router.get("/update-strategies", auth=installer_auth, response={200: Page[StrategyOut], **COMMON_ERRORS},
            summary="The Update list")
def list_strategies(request, query: Query[StrategyQuery]):
    count, items = paginate_queryset(selectors.strategy_list(request.auth, status=StatusFilter(query.status)),
                                     query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_strategy(s) for s in items]})


@router.post("/update-strategies", auth=installer_auth, response={201: StrategyOut, **COMMON_ERRORS},
             summary="Create an update strategy")
def create_strategy(request, data: StrategyIn):
    strategy = services.strategy_create(
        acting_user=request.auth, firmware=data.firmware_id, device_model=data.model or None,
        device_ids=data.device_ids, all_devices=data.all_devices, upgrade_right_now=data.upgrade_right_now,
        scheduled_at=_aware(data.scheduled_at, request.auth), waves=data.waves or None,
        success_threshold=data.success_threshold, error_threshold=data.error_threshold,
    )
    return Status(201, _strategy(strategy))


@router.get("/update-strategies/{strategy_id}", auth=installer_auth,
            response={200: StrategyDetailOut, **COMMON_ERRORS}, summary="An update strategy with each device's state")
def get_strategy(request, strategy_id: int, query: Query[DetailQuery]):
    return Status(200, _detail(_get(request, strategy_id), query))


@router.patch("/update-strategies/{strategy_id}", auth=installer_auth,
              response={200: StrategyOut, **COMMON_ERRORS}, summary="Edit a Pending update strategy")
def patch_strategy(request, strategy_id: int, data: StrategyPatch):
    strategy = _get(request, strategy_id)
    given = data.dict(exclude_unset=True)
    current_ids = [i for i in strategy.targets.values_list("device_id", flat=True) if i]
    right_now = given.get("upgrade_right_now", strategy.upgrade_right_now if "scheduled_at" not in given else False)
    scheduled = _aware(given["scheduled_at"], request.auth) if "scheduled_at" in given else strategy.scheduled_at
    updated = services.strategy_update(
        acting_user=request.auth, strategy=strategy, firmware=given.get("firmware_id") or strategy.firmware_id,
        device_model=given.get("model") or (None if "firmware_id" in given else strategy.device_model),
        device_ids=given["device_ids"] if given.get("device_ids") is not None else current_ids,
        all_devices=bool(given.get("all_devices")), upgrade_right_now=bool(right_now),
        scheduled_at=None if right_now else scheduled,
        waves=given["waves"] if given.get("waves") is not None else strategy.waves,
        success_threshold=given.get("success_threshold") or strategy.success_threshold,
        error_threshold=given.get("error_threshold", strategy.error_threshold),
    )
    return Status(200, _strategy(updated))


@router.delete("/update-strategies/{strategy_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete an update record (Pending, or finished: the devices keep their history)")
def delete_strategy(request, strategy_id: int):
    services.strategy_delete(acting_user=request.auth, strategy=_get(request, strategy_id))
    return Status(204, None)


@router.post("/update-strategies/{strategy_id}/pause", auth=installer_auth,
             response={200: StrategyOut, **COMMON_ERRORS}, summary="Pause: no further wave starts")
def pause_strategy(request, strategy_id: int):
    return Status(200, _strategy(services.strategy_pause(acting_user=request.auth,
                                                         strategy=_get(request, strategy_id))))


@router.post("/update-strategies/{strategy_id}/resume", auth=installer_auth,
             response={200: StrategyOut, **COMMON_ERRORS}, summary="Resume: the next wave starts at once")
def resume_strategy(request, strategy_id: int):
    return Status(200, _strategy(services.strategy_resume(acting_user=request.auth,
                                                          strategy=_get(request, strategy_id))))


@router.post("/update-strategies/{strategy_id}/cancel", auth=installer_auth,
             response={200: StrategyOut, **COMMON_ERRORS}, summary="Cancel: devices not started get nothing")
def cancel_strategy(request, strategy_id: int):
    return Status(200, _strategy(services.strategy_cancel(acting_user=request.auth,
                                                          strategy=_get(request, strategy_id))))


@router.post("/update-strategies/{strategy_id}/retry", auth=installer_auth,
             response={200: RetryOut, **COMMON_ERRORS}, summary="Retry the failed and not reached devices")
def retry_strategy(request, strategy_id: int):
    strategy = _get(request, strategy_id)
    retried = services.strategy_retry(acting_user=request.auth, strategy=strategy)
    strategy.refresh_from_db()
    return Status(200, {"retried": retried, "strategy": _strategy(strategy)})
