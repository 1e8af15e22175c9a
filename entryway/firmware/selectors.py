"""Reads of the Firmware and Update modules, scoped to who asks."""
from __future__ import annotations

from django.db.models import Q

from entryway.devices.models import DeviceModel
from entryway.firmware.choices import StatusFilter
from entryway.firmware.models import Firmware, UpdateStrategy, UpgradeTarget
from entryway.firmware.services import connected_devices, installer_models

DEVICE_TABLE_LIMIT = 500


def firmware_list(user, *, model: DeviceModel | None = None):
    qs = Firmware.objects.visible_to(user).prefetch_related("device_models")
    if model is not None:
        qs = qs.filter(device_models=model)
    return qs.order_by("-created_at", "-id")


def catalog_models():
    """Models that have firmware in the catalog (the Firmware module's model filter)."""
    return DeviceModel.objects.filter(firmware__isnull=False).distinct().order_by("name")


def firmware_for_model(model: DeviceModel | None):
    if model is None:
        return Firmware.objects.none()
    return Firmware.objects.filter(device_models=model).order_by("-created_at", "-id")


def strategy_list(user, *, status: str = StatusFilter.ALL):
    return (UpdateStrategy.objects.visible_to(user).with_status(StatusFilter.statuses(status))
            .select_related("device_model").order_by("-created_at", "-id"))


def strategy_targets(strategy: UpdateStrategy, *, state: str = "", q: str = ""):
    qs = UpgradeTarget.objects.filter(strategy=strategy).order_by("wave", "id")
    if state:
        qs = qs.filter(state=state)
    if q:
        qs = qs.filter(Q(mac__icontains=q) | Q(location__icontains=q))
    return qs


def device_candidates(installer, model: DeviceModel | None, *, q: str = ""):
    """The installer's connected devices of a model for the creation form: (first rows, how many match)."""
    if model is None:
        return [], 0
    qs = connected_devices(installer, model).select_related("owner")
    q = (q or "").strip()
    if q:
        mac = q.replace(":", "").replace("-", "").upper()
        qs = qs.filter(Q(mac__icontains=mac) | Q(location__icontains=q) | Q(owner__name__icontains=q))
    total = qs.count()
    return list(qs.order_by("location", "mac")[:DEVICE_TABLE_LIMIT]), total


def models_for(installer):
    return installer_models(installer)


def device_upgrade_history(device):
    """Every upgrade a device has been part of, newest first (kept when a strategy record is deleted)."""
    return (UpgradeTarget.objects.filter(device=device).select_related("strategy")
            .order_by("-strategy__created_at", "-id"))
