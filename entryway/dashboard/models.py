"""Alerts an installer sees in the portal (and by e-mail if they want), cleared when the cause goes away."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantQuerySet
from entryway.dashboard.choices import AlertKind


class Alert(models.Model):
    installer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("Alert"), max_length=32, choices=AlertKind.choices)
    # What the alert is about, e.g. "device:42" or "resident:7"; one open alert per kind and subject.
    subject = models.CharField(max_length=64)
    message = models.CharField(_("Message"), max_length=255)
    link = models.CharField(max_length=255, blank=True)
    raised_at = models.DateTimeField(_("Raised"), auto_now_add=True, db_index=True)
    cleared_at = models.DateTimeField(_("Cleared"), null=True, blank=True, db_index=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["installer", "kind", "subject"], condition=models.Q(cleared_at__isnull=True),
                                    name="one_open_alert_per_subject"),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class AlertPreference(models.Model):
    installer = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference")
    email_enabled = models.BooleanField(_("Also send alerts by e-mail"), default=False)
    device_offline_minutes = models.PositiveIntegerField(_("Device offline for longer than (minutes)"), default=30)
    expiring_days = models.PositiveIntegerField(_("Subscription expiring within (days)"), default=7)

    def __str__(self) -> str:
        return f"alert preferences of {self.installer_id}"
