"""MAC library, intercom devices with relays, third-party cameras."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from entryway.core.fields import EncryptedTextField
from entryway.core.models import TenantModel, TenantQuerySet
from entryway.devices.choices import ConnectType, DeviceType, ImportStatus


class DeviceModel(models.Model):
    """The device-model catalog (R29, X916, IT82, …), kept by the platform admin."""

    name = models.CharField(_("Model"), max_length=32, unique=True)
    device_type = models.CharField(_("Device Type"), max_length=20, choices=DeviceType.choices)
    description = models.CharField(max_length=200, blank=True)
    relay_count = models.PositiveSmallIntegerField(default=4)

    class Meta:
        ordering = ["device_type", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_device_type_display()})"


class MacLibraryQuerySet(models.QuerySet):
    """A MAC belongs to a distributor (who registered it) and, once assigned, to one installer."""

    def visible_to(self, user):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.role == "admin":
            return self.all()
        if user.role == "distributor":
            return self.filter(models.Q(distributor_id=user.pk) | models.Q(installer__parent_id=user.pk))
        if user.role == "installer":
            return self.filter(installer_id=user.pk)
        return self.none()


class MacLibraryEntry(models.Model):
    # Few indexes keep big imports fast: the two (owner, -created_at, -id) indexes below also serve
    # the distributor and installer foreign keys.
    mac = models.CharField(_("MAC"), max_length=12, unique=True)
    distributor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    installer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("Created Time"), auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )

    objects = MacLibraryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("MAC Library entry")
        indexes = [
            models.Index(fields=["installer", "-created_at", "-id"]),
            models.Index(fields=["distributor", "-created_at", "-id"]),
        ]

    def __str__(self) -> str:
        return self.mac


class IntercomDeviceQuerySet(TenantQuerySet):
    def visible_to(self, user):
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) == "resident":
            return self.filter(
                models.Q(owner__account_id=user.pk) | models.Q(owner__family_members__account_id=user.pk)
            ).distinct()
        return super().visible_to(user)

    def online(self):
        cutoff = timezone.now() - timezone.timedelta(seconds=settings.DEVICE_OFFLINE_AFTER)
        return self.filter(last_seen_at__gte=cutoff)


class IntercomDevice(TenantModel):
    owner = models.ForeignKey("residents.Resident", on_delete=models.CASCADE, related_name="devices",
                              verbose_name=_("Owner"))
    device_model = models.ForeignKey(DeviceModel, on_delete=models.PROTECT, related_name="devices",
                                     verbose_name=_("Device Type"))
    # Denormalised from the library entry: the device protocol looks devices up by this indexed MAC.
    mac = models.CharField(_("MAC"), max_length=12, unique=True)
    mac_entry = models.OneToOneField(MacLibraryEntry, on_delete=models.PROTECT, related_name="device")
    location = models.CharField(_("Location"), max_length=64)
    sip_number = models.CharField(_("SIP"), max_length=20, unique=True)
    security_relay = models.BooleanField(_("Add Security Relay"), default=False)

    # Remote maintenance settings (carried in the AutoP file)
    connect_type = models.CharField(_("Connect Type"), max_length=3, choices=ConnectType.choices,
                                    default=ConnectType.UDP)
    autop_commands = models.TextField(_("Others"), blank=True,
                                      help_text=_("Regular AutoP commands, applied at every provisioning."))

    # Device protocol credentials (given back in the AutoP file, so kept encrypted, not hashed)
    device_secret = EncryptedTextField(blank=True, default="")
    mqtt_password = EncryptedTextField(blank=True, default="")

    # What the device last reported (check-ins). Not indexed on purpose: the fleet rewrites these columns all
    # the time, and a change to an indexed column makes PostgreSQL write a new entry in every index of the
    # table (the trigram ones too) instead of a heap-only update (migration 0007).
    last_seen_at = models.DateTimeField(_("Last Connected Time"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP Address"), null=True, blank=True)
    firmware_version = models.CharField(_("Firmware"), max_length=32, blank=True)
    reported_model = models.CharField(max_length=32, blank=True)
    uptime_seconds = models.BigIntegerField(null=True, blank=True)

    objects = IntercomDeviceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["installer", "-created_at", "-id"]),
            models.Index(fields=["installer", "device_model"]),
        ]

    def __str__(self) -> str:
        return f"{self.mac} ({self.location})"

    @property
    def is_online(self) -> bool:
        if self.last_seen_at is None:
            return False
        return (timezone.now() - self.last_seen_at).total_seconds() <= settings.DEVICE_OFFLINE_AFTER

    @property
    def device_type(self) -> str:
        return self.device_model.device_type


class Relay(models.Model):
    device = models.ForeignKey(IntercomDevice, on_delete=models.CASCADE, related_name="relays")
    index = models.PositiveSmallIntegerField()  # 1..4
    enabled = models.BooleanField(_("Relay"), default=False)
    name = models.CharField(_("Relay Name"), max_length=64, blank=True)
    dtmf_code = models.CharField(_("DTMF Code"), max_length=8, blank=True)

    class Meta:
        ordering = ["device", "index"]
        constraints = [
            models.UniqueConstraint(fields=["device", "index"], name="relay_unique_index"),
            models.CheckConstraint(condition=models.Q(index__gte=1, index__lte=4), name="relay_index_1_4"),
        ]

    def __str__(self) -> str:
        return f"Relay {self.index}: {self.name}"


class ThirdPartyCameraQuerySet(TenantQuerySet):
    def visible_to(self, user):
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) == "resident":
            return self.filter(
                models.Q(owner__account_id=user.pk) | models.Q(owner__family_members__account_id=user.pk)
            ).distinct()
        return super().visible_to(user)


class ThirdPartyCamera(TenantModel):
    owner = models.ForeignKey("residents.Resident", on_delete=models.CASCADE, related_name="cameras",
                              verbose_name=_("Owner"))
    location = models.CharField(_("Location"), max_length=64)
    rtsp_url = models.CharField(_("RTSP Address"), max_length=255)
    username = models.CharField(_("Username"), max_length=64)
    password = EncryptedTextField(_("Password"))
    link_device = models.ForeignKey(IntercomDevice, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="linked_cameras", verbose_name=_("Link Device"))

    objects = ThirdPartyCameraQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.location


class MacImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.role == "admin":
            return self.all()
        return self.filter(created_by_id=user.pk)


class MacImport(models.Model):
    """One MAC Library import: the uploaded rows, its progress and its row-by-row report."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The library the MACs go to: an installer's, or the distributor's own register.
    installer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    distributor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    file_name = models.CharField(_("File"), max_length=255, blank=True)
    file_kind = models.CharField(max_length=4, blank=True)  # "xlsx" or "csv", found from the content
    # The uploaded file, kept until the import has run.
    data = models.BinaryField(blank=True, default=b"")
    status = models.CharField(_("Status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(_("Added"), default=0)
    duplicates = models.PositiveIntegerField(_("Duplicate"), default=0)
    invalid = models.PositiveIntegerField(_("Invalid"), default=0)
    # [[row number, value as read, result, message], ...]
    report = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(_("Created Time"), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Resuming an interrupted run: the time every MAC of this import is stamped with (so that a
    # rerun recognises the rows it already committed as its own), the index of the first row whose
    # batch has not committed yet, and the running run's lease, renewed with every batch.
    started_at = models.DateTimeField(null=True, blank=True)
    next_row = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = MacImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"MAC import {self.pk} ({self.file_name})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_finished else 0
        return min(100, int(self.processed * 100 / self.total))
