"""The firmware catalog and update strategies (rollouts) with one target row per device."""
from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantModel, TenantQuerySet
from entryway.firmware.choices import (
    BAD_TARGET_STATES,
    FINAL_TARGET_STATES,
    GOOD_TARGET_STATES,
    OPEN_TARGET_STATES,
    StrategyStatus,
    TargetState,
)

VERSION_RE = re.compile(r"^\d{1,5}(?:\.\d{1,6}){2,4}$")


def validate_firmware_version(value: str) -> None:
    if not VERSION_RE.match(value or ""):
        raise ValidationError(
            _("%(value)s is not a firmware version: use 3 to 5 numbers separated by dots, e.g. 29.30.2.805.")
            % {"value": (value or "")[:40] or _("(empty)")},
            code="invalid_version",
        )


class FirmwareQuerySet(models.QuerySet):
    """The catalog is the platform's: every portal account may read it; only the admin changes it."""

    def visible_to(self, user):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if getattr(user, "role", None) in {"admin", "distributor", "installer"}:
            return self.all()
        return self.none()


class Firmware(models.Model):
    version = models.CharField(_("Version"), max_length=32, unique=True, validators=[validate_firmware_version])
    device_models = models.ManyToManyField("devices.DeviceModel", related_name="firmware", verbose_name=_("Model"))
    version_log = models.TextField(_("Version Log"), blank=True, max_length=5000)
    file = models.FileField(_("Firmware file"), max_length=255)
    filename = models.CharField(_("File name"), max_length=200)
    size = models.BigIntegerField(_("Size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(_("Created Time"), auto_now_add=True, db_index=True)

    objects = FirmwareQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("Firmware")

    def __str__(self) -> str:
        return self.version

    @property
    def model_names(self) -> str:
        return ", ".join(m.name for m in self.device_models.all())


class UpdateStrategyQuerySet(TenantQuerySet):
    def visible_to(self, user):
        # A deleted record is gone for everyone; its device rows stay as the devices' history.
        return super().visible_to(user).filter(deleted_at__isnull=True)

    def with_status(self, statuses):
        return self.filter(status__in=statuses) if statuses else self


class UpdateStrategy(TenantModel):
    firmware = models.ForeignKey(Firmware, on_delete=models.PROTECT, related_name="strategies",
                                 verbose_name=_("Version"))
    device_model = models.ForeignKey("devices.DeviceModel", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("Model"))
    version = models.CharField(_("Version"), max_length=32)
    status = models.CharField(_("Status"), max_length=12, choices=StrategyStatus.choices,
                              default=StrategyStatus.PENDING, db_index=True)
    upgrade_right_now = models.BooleanField(_("Upgrade Right Now"), default=False)
    scheduled_at = models.DateTimeField(_("Upgrade Time"), db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Staged rollout: cumulative percentages of the devices, e.g. [10, 50, 100]; [100] = one wave.
    waves = models.JSONField(_("Waves"), default=list)
    success_threshold = models.PositiveSmallIntegerField(_("Success threshold (%)"), default=80)
    error_threshold = models.PositiveSmallIntegerField(_("Error threshold (%)"), null=True, blank=True)
    current_wave = models.SmallIntegerField(default=-1)
    pause_reason = models.CharField(_("Reason"), max_length=255, blank=True)

    # Kept with the strategy so that the list needs no per-row queries.
    device_count = models.PositiveIntegerField(default=0)
    device_label = models.CharField(_("Device"), max_length=80, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = UpdateStrategyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("Update strategy")
        verbose_name_plural = _("Update strategies")
        indexes = [
            models.Index(fields=["installer", "-created_at", "-id"]),
            models.Index(fields=["status", "scheduled_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.device_label or self.device_count})"

    @property
    def is_pending(self) -> bool:
        return self.status == StrategyStatus.PENDING

    @property
    def is_running(self) -> bool:
        return self.status in (StrategyStatus.PROCESSING, StrategyStatus.PAUSED)

    @property
    def is_finished(self) -> bool:
        return self.status in (StrategyStatus.EXECUTED, StrategyStatus.CANCELLED)

    @property
    def is_staged(self) -> bool:
        return len(self.waves or []) > 1

    @property
    def wave_count(self) -> int:
        return max(1, len(self.waves or []))


class UpgradeTargetQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(strategy__in=UpdateStrategy.objects.visible_to(user))

    def open(self):
        return self.filter(state__in=OPEN_TARGET_STATES)


class UpgradeTarget(models.Model):
    """One device of a strategy: its wave, its state and the device action that carries the upgrade."""

    strategy = models.ForeignKey(UpdateStrategy, on_delete=models.CASCADE, related_name="targets")
    # Kept when the device is deleted later: the row is part of the strategy's history.
    device = models.ForeignKey("devices.IntercomDevice", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="upgrade_targets")
    mac = models.CharField(_("MAC"), max_length=12)
    location = models.CharField(_("Location"), max_length=64, blank=True)
    wave = models.PositiveSmallIntegerField(_("Wave"), default=0)
    from_version = models.CharField(_("Current Version"), max_length=32, blank=True)
    state = models.CharField(_("Status"), max_length=12, choices=TargetState.choices, default=TargetState.WAITING)
    # True while this row may still upgrade the device; one such row per device at most.
    active = models.BooleanField(default=True)
    action = models.ForeignKey("deviceapi.DeviceAction", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    detail = models.CharField(_("Detail"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = UpgradeTargetQuerySet.as_manager()

    class Meta:
        ordering = ["wave", "id"]
        constraints = [
            models.UniqueConstraint(fields=["device"], condition=models.Q(active=True),
                                    name="firmware_one_open_upgrade_per_device"),
            models.UniqueConstraint(fields=["strategy", "device"], name="firmware_target_unique_device"),
        ]
        indexes = [
            models.Index(fields=["strategy", "wave", "state"]),
            models.Index(fields=["deadline_at"], condition=models.Q(active=True), name="firmware_target_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.mac} → {self.strategy.version if self.strategy_id else ''} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_TARGET_STATES

    @property
    def is_good(self) -> bool:
        return self.state in GOOD_TARGET_STATES

    @property
    def is_bad(self) -> bool:
        return self.state in BAD_TARGET_STATES
