"""Tenancy base and the audit log."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantQuerySet(models.QuerySet):
    """The one place where "who may see what" is decided for tenant-owned objects.

    - platform admin: everything
    - distributor: objects of its own installers
    - installer: its own objects
    - anyone else (residents, anonymous): nothing
    Apps whose objects belong to residents refine this by overriding ``visible_to``.
    """

    installer_field = "installer"

    def visible_to(self, user):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        role = getattr(user, "role", None)
        if role == "admin":
            return self.all()
        if role == "distributor":
            return self.filter(**{f"{self.installer_field}__parent_id": user.pk})
        if role == "installer":
            return self.filter(**{f"{self.installer_field}_id": user.pk})
        return self.none()


class TenantModel(models.Model):
    """Base of every model owned by one installer (single-tenant manager)."""

    installer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        limit_choices_to={"role": "installer"},
    )
    created_at = models.DateTimeField(_("Created Time"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class AuditLog(models.Model):
    """One row for each change an installer, distributor or admin makes."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(max_length=200, blank=True)
    # The account acting on someone's behalf (a distributor logged in as an installer).
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The tenant the change belongs to, so that an installer can read their own history.
    installer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=80, db_index=True)  # e.g. "resident.create"
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["installer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_repr} {self.action} {self.object_repr}"
