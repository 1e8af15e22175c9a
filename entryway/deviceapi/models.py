"""Actions the platform asks a device to carry out, and what the device reported back."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from entryway.core.fields import EncryptedTextField
from entryway.core.models import TenantModel
from entryway.deviceapi.choices import OPEN_STATUSES, ActionKind, ActionStatus


class DeviceAction(TenantModel):
    device = models.ForeignKey("devices.IntercomDevice", on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(_("Action"), max_length=20, choices=ActionKind.choices)
    # What the device needs: AutoP lines, firmware URL and sha256, message title/body, …
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("Status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.PENDING)
    detail = models.TextField(_("Detail"), blank=True)
    # Progress a device reports while it works (e.g. downloading, installing).
    stage = models.CharField(max_length=32, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["device", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.device_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class AutopCredential(models.Model):
    """An installer's HTTP Basic credentials for ``GET /autop/<MAC>.cfg`` (Setting module → AutoP)."""

    installer = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                      related_name="autop_credential")
    username = models.CharField(_("Username"), max_length=32, unique=True)
    password = EncryptedTextField(_("Password"))
    rotated_at = models.DateTimeField(_("Rotated"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("AutoP credentials")

    def __str__(self) -> str:
        return self.username
