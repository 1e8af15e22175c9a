"""Residents (the guide's "users") and their family members."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantModel, TenantQuerySet
from entryway.core.validators import validate_language, validate_time_zone
from entryway.residents.choices import ActiveStatus, CallType, LandlineStatus


class ResidentQuerySet(TenantQuerySet):
    def visible_to(self, user):
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) == "resident":
            return self.filter(models.Q(account_id=user.pk) | models.Q(family_members__account_id=user.pk)).distinct()
        return super().visible_to(user)

    def search(self, q: str):
        """Name, Email, Mobile Number, Family SIP number or SIP number."""
        q = (q or "").strip()
        if not q:
            return self
        digits = q.lstrip("+").replace(" ", "")
        cond = models.Q(name__icontains=q) | models.Q(email__icontains=q)
        if digits.isdigit():
            cond |= (
                models.Q(mobile_number__icontains=digits)
                | models.Q(family_sip=digits)
                | models.Q(personal_sip=digits)
            )
        return self.filter(cond)

    def with_status(self, status: str):
        now = timezone.now()
        if status == ActiveStatus.INACTIVATED:
            return self.filter(activated_at__isnull=True)
        if status == ActiveStatus.NORMAL:
            return self.filter(activated_at__isnull=False, expires_at__gt=now)
        if status == ActiveStatus.EXPIRED:
            return self.filter(activated_at__isnull=False, expires_at__lte=now)
        return self


class Resident(TenantModel):
    """A household's host account: the guide's "User"."""

    name = models.CharField(_("Name"), max_length=64, db_index=True)
    room_name = models.CharField(_("Room Name"), max_length=64, blank=True)
    email = models.EmailField(_("Email"), max_length=254, blank=True, db_index=True)
    country = models.CharField(_("Country / Region"), max_length=2, blank=True)
    mobile_number = models.CharField(_("Mobile Number"), max_length=20, blank=True, db_index=True)
    address = models.CharField(_("Address"), max_length=255, blank=True)
    call_type = models.CharField(_("SIP Call Or IP Call"), max_length=3, choices=CallType.choices, default=CallType.SIP)
    time_zone = models.CharField(_("Time Zone"), max_length=64, validators=[validate_time_zone])
    language = models.CharField(_("Language"), max_length=10, choices=settings.LANGUAGES, default="en",
                                validators=[validate_language])
    landline_1 = models.CharField(_("1st Landline"), max_length=21, blank=True)
    landline_2 = models.CharField(_("2nd Landline"), max_length=21, blank=True)
    landline_3 = models.CharField(_("3rd Landline"), max_length=21, blank=True)
    home_automation = models.BooleanField(_("Home AutoMation"), default=False)
    premium_plan = models.BooleanField(_("Premium Plan"), default=False)
    landline_service = models.BooleanField(_("Landline Service"), default=False)

    # Numbers (unique across the platform; see entryway.sip). family_sip is also the UID.
    family_sip = models.CharField(_("Family SIP"), max_length=20, unique=True)
    personal_sip = models.CharField(_("Personal SIP"), max_length=20, unique=True)

    # Service status
    activated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    landline_activated_at = models.DateTimeField(null=True, blank=True)
    landline_expires_at = models.DateTimeField(_("Landline Expiration Time"), null=True, blank=True)
    family_member_limit = models.PositiveSmallIntegerField(
        _("Family member limit"), default=settings.DEFAULT_FAMILY_MEMBER_LIMIT
    )
    # Cached count for the list's Family Member column (kept by the family-member services).
    family_member_count = models.PositiveSmallIntegerField(_("Family Member"), default=0)

    # The resident's own login (resident portal), created with the user.
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="resident"
    )

    objects = ResidentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["installer", "-created_at", "-id"]),
            models.Index(fields=["installer", "name"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def uid(self) -> str:
        return self.family_sip

    @property
    def active_status(self) -> str:
        if self.activated_at is None:
            return ActiveStatus.INACTIVATED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return ActiveStatus.EXPIRED
        return ActiveStatus.NORMAL

    def get_active_status_display(self) -> str:
        return ActiveStatus(self.active_status).label

    @property
    def is_active_service(self) -> bool:
        return self.active_status == ActiveStatus.NORMAL

    @property
    def landline_status(self) -> str:
        if not self.landline_service:
            return LandlineStatus.OFF
        if self.landline_activated_at is None:
            return LandlineStatus.INACTIVATED
        if self.landline_expires_at is not None and self.landline_expires_at <= timezone.now():
            return LandlineStatus.EXPIRED
        return LandlineStatus.NORMAL

    def get_landline_status_display(self) -> str:
        return LandlineStatus(self.landline_status).label

    @property
    def landlines(self) -> list[str]:
        return [n for n in (self.landline_1, self.landline_2, self.landline_3) if n]


class FamilyMemberQuerySet(TenantQuerySet):
    def visible_to(self, user):
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) == "resident":
            return self.filter(models.Q(account_id=user.pk) | models.Q(resident__account_id=user.pk))
        return super().visible_to(user)


class FamilyMember(TenantModel):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="family_members")
    name = models.CharField(_("Name"), max_length=64)
    email = models.EmailField(_("Email"), max_length=254, blank=True)
    country = models.CharField(_("Country / Region"), max_length=2, blank=True)
    mobile_number = models.CharField(_("Mobile Number"), max_length=20, blank=True)
    personal_sip = models.CharField(_("SIP"), max_length=20, unique=True)
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="family_member"
    )

    objects = FamilyMemberQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name
