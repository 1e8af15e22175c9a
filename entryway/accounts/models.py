"""Platform accounts: one model, four roles."""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from entryway.accounts.choices import Role
from entryway.core.fields import EncryptedTextField
from entryway.core.validators import validate_language, validate_time_zone


class AccountManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class Account(AbstractUser):
    role = models.CharField(_("Role"), max_length=20, choices=Role.choices, default=Role.INSTALLER, db_index=True)
    name = models.CharField(_("Name"), max_length=128, blank=True)
    # An installer's distributor. Distributors and admins have none.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        limit_choices_to={"role": Role.DISTRIBUTOR},
    )
    time_zone = models.CharField(_("Time Zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(
        _("Language"), max_length=10, default="en", choices=settings.LANGUAGES, validators=[validate_language]
    )
    phone = models.CharField(_("Phone"), max_length=32, blank=True)
    # Customer Service contact, shown to the installer's residents (distributor: to its installers).
    customer_service_phone = models.CharField(_("Phone"), max_length=32, blank=True)
    customer_service_email = models.EmailField(_("Email"), blank=True)
    # Distributor: lets its installers grant account access. Installer: Permission Granted.
    account_access_enabled = models.BooleanField(_("Account access"), default=False)
    permission_granted = models.BooleanField(_("Permission Granted"), default=False)
    smart_home_url = models.URLField(_("Smart home portal URL"), blank=True)
    totp_secret = EncryptedTextField(blank=True, default="")
    totp_enabled = models.BooleanField(_("Two-factor login"), default=False)

    objects = AccountManager()

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.name or self.username

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.username

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_distributor(self) -> bool:
        return self.role == Role.DISTRIBUTOR

    @property
    def is_installer(self) -> bool:
        return self.role == Role.INSTALLER

    @property
    def is_resident(self) -> bool:
        return self.role == Role.RESIDENT


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def authenticate(self, raw: str):
        """The active token for this raw string, or None."""
        if not raw or len(raw) > 200:
            return None
        return self.active().select_related("account").filter(token_hash=_hash_token(raw)).first()


class ApiToken(models.Model):
    """A bearer token an installer creates in the portal for an integrator. Only its hash is kept."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("Name"), max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        raw = "ew_" + secrets.token_urlsafe(32)
        return raw, raw[:10], _hash_token(raw)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
