"""SIP numbers and the accounts that register with them.

Numbers are 10 digits: a configurable prefix (SIP_PREFIX, default 5926), one digit for the
range (0 family, 1 personal/device) and a sequence. A number is never reused: the sequence
only grows, and a deleted account's row stays (inactive) so that its number stays taken.
"""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from entryway.core.fields import EncryptedTextField
from entryway.sip.choices import SipKind


class SipCounter(models.Model):
    name = models.CharField(max_length=20, primary_key=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.last_value}"


class SipAccount(models.Model):
    number = models.CharField(_("SIP"), max_length=20, unique=True)
    kind = models.CharField(max_length=10, choices=SipKind.choices)
    password = EncryptedTextField(blank=True, default="")
    # MD5(number:realm:password), the digest credential the SIP server checks (RFC 2617/8760 "HA1").
    ha1 = models.CharField(max_length=32, blank=True, default="")
    installer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The household (family SIP number) this account rings with; empty for a family number itself.
    family_number = models.CharField(max_length=20, blank=True, db_index=True)
    display_name = models.CharField(max_length=128, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number

    @staticmethod
    def generate_password() -> str:
        return secrets.token_urlsafe(12)

    @staticmethod
    def compute_ha1(number: str, password: str, realm: str | None = None) -> str:
        realm = realm or settings.SIP_DOMAIN
        return hashlib.md5(f"{number}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()

    def save(self, *args, **kwargs):
        if self.password:
            self.ha1 = self.compute_ha1(self.number, self.password)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "password" in update_fields:
            kwargs["update_fields"] = {*update_fields, "ha1"}
        super().save(*args, **kwargs)


class SipTrunk(models.Model):
    """Where landline calls go: a SIP trunk set by the platform admin. The first enabled one is used."""

    class Transport(models.TextChoices):
        UDP = "udp", "UDP"
        TCP = "tcp", "TCP"

    name = models.CharField(pgettext_lazy("SIP trunk", "Name"), max_length=64)
    host = models.CharField(pgettext_lazy("network", "Host"), max_length=253)
    port = models.PositiveIntegerField(_("Port"), default=5060)
    transport = models.CharField(_("Transport"), max_length=3, choices=Transport.choices, default=Transport.UDP)
    enabled = models.BooleanField(_("Enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port}/{self.transport})"
