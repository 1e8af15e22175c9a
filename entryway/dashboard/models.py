"""Alerts an installer sees in the portal (and by e-mail if they want), cleared when the cause goes away."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantQuerySet
from entryway.dashboard.choices import AlertKind, JobStatus


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


class JobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A job is seen by whoever started it (and the platform admin)."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.role == "admin":
            return self.all()
        return self.filter(created_by_id=user.pk)


class Job(models.Model):
    """A long operation run or watched in the background (an export, a One Time AutoP batch, a bulk
    order): its progress, shown live in the portal, and its result (a message, a link, a file)."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    title = models.CharField(_("Title"), max_length=200)
    status = models.CharField(_("Status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    # What the job needs to run (ids, filters); JSON only.
    params = models.JSONField(default=dict, blank=True)
    # What it produced: {"message": str, "link": str, "link_label": str, "counts": [[label, n], ...]}
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # A file to download when done (exports), kept in the database so every web process can serve it.
    data = models.BinaryField(blank=True, default=b"")
    file_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(_("Created Time"), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_finished else 0
        return min(100, int(self.processed * 100 / self.total))
