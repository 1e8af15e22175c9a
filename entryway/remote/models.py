"""Remote Control sessions and the requests relayed through a device's tunnel."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantModel, TenantQuerySet
from entryway.remote.choices import CloseReason, RequestState, SessionState


class RemoteSessionQuerySet(TenantQuerySet):
    """A session serves the installer who opened it, and their distributor while the installer's
    access permission is on (docs/device-protocol.md, Remote Control). Nobody else sees it."""

    def visible_to(self, user):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        role = getattr(user, "role", None)
        if role == "installer":
            return self.filter(installer_id=user.pk)
        if role == "distributor" and user.account_access_enabled:
            return self.filter(installer__parent_id=user.pk, installer__permission_granted=True,
                               installer__is_active=True)
        return self.none()

    def open(self, now=None):
        now = now or timezone.now()
        return self.filter(closed_at__isnull=True, expires_at__gt=now)


class RemoteSession(TenantModel):
    # Names the session in URLs (/remote/<token>/…, /device/v1/tunnel/<token>/…): not guessable.
    token = models.CharField(max_length=32, unique=True)
    device = models.ForeignKey("devices.IntercomDevice", on_delete=models.CASCADE, related_name="remote_sessions",
                               verbose_name=_("Device"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    action = models.ForeignKey("deviceapi.DeviceAction", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    opened_at = models.DateTimeField(_("Opened"), default=timezone.now)
    expires_at = models.DateTimeField(_("Expires"))
    connected_at = models.DateTimeField(_("Connected"), null=True, blank=True)
    device_seen_at = models.DateTimeField(null=True, blank=True)  # the device's last tunnel call
    closed_at = models.DateTimeField(_("Closed"), null=True, blank=True)
    close_reason = models.CharField(_("Reason"), max_length=16, choices=CloseReason.choices, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    request_count = models.PositiveIntegerField(_("Requests"), default=0)
    bytes_to_device = models.BigIntegerField(default=0)
    bytes_from_device = models.BigIntegerField(default=0)

    objects = RemoteSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["installer", "-opened_at"]),
            models.Index(fields=["device", "closed_at"]),
            models.Index(fields=["closed_at", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"Remote Control {self.device_id} ({self.opened_at:%Y-%m-%d %H:%M})"

    def is_open(self, now=None) -> bool:
        return self.closed_at is None and self.expires_at > (now or timezone.now())

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.closed_at is not None:
            return SessionState.EXPIRED if self.close_reason == CloseReason.EXPIRED else SessionState.CLOSED
        if self.expires_at <= now:
            return SessionState.EXPIRED
        if self.connected_at is not None:
            return SessionState.CONNECTED
        if (now - self.opened_at).total_seconds() > settings.REMOTE_CONNECT_TIMEOUT:
            return SessionState.NOT_CONNECTED
        return SessionState.WAITING

    def state_label(self) -> str:
        return SessionState(self.state()).label

    @property
    def ended_at(self):
        return self.closed_at or (self.expires_at if self.expires_at <= timezone.now() else None)

    def duration_seconds(self, now=None) -> int:
        end = self.closed_at or min(now or timezone.now(), self.expires_at)
        return max(0, int((end - self.opened_at).total_seconds()))

    def seconds_left(self, now=None) -> int:
        return max(0, int((self.expires_at - (now or timezone.now())).total_seconds()))


class RemoteRequest(models.Model):
    """One browser request waiting for (or answered by) the device. Deleted once the browser has the answer."""

    session = models.ForeignKey(RemoteSession, on_delete=models.CASCADE, related_name="requests")
    state = models.CharField(max_length=10, choices=RequestState.choices, default=RequestState.QUEUED)
    method = models.CharField(max_length=10)
    target = models.TextField()  # path and query on the device, e.g. "/settings?saved=1"
    headers = models.JSONField(default=list)  # [[name, value], …]
    body = models.BinaryField(default=b"")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["session", "state", "id"])]

    def __str__(self) -> str:
        return f"{self.method} {self.target[:60]} ({self.state})"
