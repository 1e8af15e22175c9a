"""Writes on residents and family members. Views, API, tasks and the CLI all come through here."""
from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.core.audit import audit, changed, snapshot
from entryway.core.validators import normalize_phone, validate_landline
from entryway.residents.models import FamilyMember, Resident
from entryway.sip.choices import SipKind
from entryway.sip.models import SipAccount
from entryway.sip.services import sip_account_create, sip_account_deactivate, sip_number_allocate

RESIDENT_FIELDS = (
    "name", "room_name", "email", "country", "mobile_number", "address", "call_type", "time_zone",
    "language", "landline_1", "landline_2", "landline_3", "home_automation", "premium_plan", "landline_service",
)
FAMILY_MEMBER_FIELDS = ("name", "email", "country", "mobile_number")


def _refuse_unstorable_text(obj, fields, errors: dict) -> None:
    """Text a database cannot store (NUL characters, lone surrogates) gets a field message."""
    for field in fields:
        value = getattr(obj, field, "")
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            errors.setdefault(field, []).append(_("Null characters are not allowed."))
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            errors.setdefault(field, []).append(_("This text contains characters that are not valid."))
            value = value.encode("utf-8", "replace").decode("utf-8")
        setattr(obj, field, value)


def _check_fields(data: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})


def _clean_contact(obj, errors: dict) -> None:
    """Country / Region and Mobile Number are validated together."""
    if obj.mobile_number:
        try:
            obj.mobile_number = normalize_phone(obj.mobile_number, obj.country)
        except ValidationError as exc:
            errors.setdefault("mobile_number", []).extend(exc.messages)
    elif obj.country:
        import phonenumbers

        if obj.country.upper() not in phonenumbers.SUPPORTED_REGIONS:
            errors.setdefault("country", []).append(_("%(value)s is not a known Country / Region.") % {"value": obj.country})
    obj.country = (obj.country or "").upper()


def _validate_resident(resident: Resident) -> None:
    errors: dict[str, list[str]] = {}
    _refuse_unstorable_text(resident, RESIDENT_FIELDS, errors)
    for field in ("name", "room_name", "email", "address"):
        setattr(resident, field, (getattr(resident, field) or "").strip())
    resident.email = Account.objects.normalize_email(resident.email)
    _clean_contact(resident, errors)
    for field in ("landline_1", "landline_2", "landline_3"):
        try:
            setattr(resident, field, validate_landline(getattr(resident, field)))
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
    if resident.home_automation and resident.premium_plan:
        errors.setdefault("premium_plan", []).append(
            _("Premium Plan cannot be on while Home Automation is on: turn Home Automation off first.")
        )
    if resident.landline_service and not resident.premium_plan:
        errors.setdefault("landline_service", []).append(_("Landline Service needs Premium Plan: turn Premium Plan on."))
    if resident.landline_service and not resident.landlines:
        errors.setdefault("landline_1", []).append(_("Landline Service needs at least one landline number."))
    try:
        resident.full_clean(exclude=["installer", "family_sip", "personal_sip"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _resident_login(*, email: str, name: str, language: str, time_zone: str, username: str) -> Account | None:
    """A resident's own portal login (no usable password until they set one from the e-mail)."""
    account = Account(username=username, email=email, name=name, role=Role.RESIDENT, language=language,
                      time_zone=time_zone)
    account.set_unusable_password()
    account.save()
    return account


def _send_welcome(account: Account | None, language: str, name: str, purpose: str = "setup") -> None:
    """After commit, e-mail the login a link to set its password, in the household's language."""
    if account is None or not account.email:
        return
    from entryway.accounts.services import send_password_setup_email

    transaction.on_commit(
        lambda: send_password_setup_email(account=account, language=language, name=name, purpose=purpose))


@transaction.atomic
def resident_create(*, acting_user: Account, installer: Account, **data: Any) -> Resident:
    """Create a user with Family and Personal SIP numbers and (with an e-mail) a portal login."""
    if installer.role != Role.INSTALLER:
        raise ValidationError(_("Users belong to an installer."))
    _check_fields(data, RESIDENT_FIELDS)
    resident = Resident(installer=installer, **data)
    if not resident.time_zone:
        resident.time_zone = installer.time_zone or "UTC"
    _validate_resident(resident)
    resident.family_sip = sip_number_allocate(kind=SipKind.FAMILY)
    sip = sip_account_create(kind=SipKind.PERSONAL, installer=installer, family_number=resident.family_sip,
                             display_name=resident.name)
    resident.personal_sip = sip.number
    resident.save()
    if resident.email:
        resident.account = _resident_login(
            email=resident.email, name=resident.name, language=resident.language, time_zone=resident.time_zone,
            username=resident.personal_sip,
        )
        resident.save(update_fields=["account"])
    audit(acting_user=acting_user, action="resident.create", obj=resident, after=snapshot(resident))
    _send_welcome(resident.account, resident.language, resident.name)
    return resident


@transaction.atomic
def resident_update(*, acting_user: Account, resident: Resident, **data: Any) -> Resident:
    _check_fields(data, RESIDENT_FIELDS)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    before = snapshot(resident)
    for key, value in data.items():
        setattr(resident, key, value)
    if not resident.time_zone:
        resident.time_zone = resident.installer.time_zone or "UTC"
    _validate_resident(resident)
    resident.save()
    SipAccount.objects.filter(number=resident.personal_sip).update(display_name=resident.name[:128])
    # Family members' logins follow the household's language and time zone.
    Account.objects.filter(family_member__resident=resident).update(
        language=resident.language, time_zone=resident.time_zone)
    if resident.account_id:
        Account.objects.filter(pk=resident.account_id).update(
            email=resident.email, name=resident.name, language=resident.language, time_zone=resident.time_zone
        )
    elif resident.email:
        resident.account = _resident_login(
            email=resident.email, name=resident.name, language=resident.language, time_zone=resident.time_zone,
            username=resident.personal_sip,
        )
        resident.save(update_fields=["account"])
        _send_welcome(resident.account, resident.language, resident.name)
    b, a = changed(before, snapshot(resident))
    if a:
        audit(acting_user=acting_user, action="resident.update", obj=resident, before=b, after=a)
    return resident


@transaction.atomic
def resident_delete(*, acting_user: Account, resident: Resident) -> None:
    """Delete a user, their family members and their cameras; unbind their devices.

    Device MACs stay in the installer's MAC library. SIP numbers stay taken (never reused).
    """
    from entryway.devices.models import IntercomDevice

    before = snapshot(resident)
    devices = list(IntercomDevice.objects.filter(owner=resident))
    for device in devices:
        sip_account_deactivate(number=device.sip_number)
    # Deleting the device rows unbinds their MACs; the library entries are kept.
    IntercomDevice.objects.filter(owner=resident).delete()
    numbers = [resident.personal_sip, *resident.family_members.values_list("personal_sip", flat=True)]
    for number in numbers:
        sip_account_deactivate(number=number)
    account_ids = [a for a in [resident.account_id, *resident.family_members.values_list("account_id", flat=True)] if a]
    audit(
        acting_user=acting_user, action="resident.delete", obj=resident, before=before,
        after={"family_members_deleted": resident.family_members.count(), "devices_unbound": [d.mac for d in devices]},
    )
    resident.delete()
    Account.objects.filter(pk__in=account_ids, role=Role.RESIDENT).delete()


@transaction.atomic
def resident_activate(*, resident: Resident, until: datetime.datetime, acting_user: Account | None) -> Resident:
    """Start or extend the service (billing calls this). Normal until ``until``."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    before = snapshot(resident, ["activated_at", "expires_at", "landline_activated_at", "landline_expires_at"])
    now = timezone.now()
    if resident.activated_at is None:
        resident.activated_at = now
    resident.expires_at = until
    if resident.landline_service:
        resident.landline_activated_at = resident.landline_activated_at or now
        resident.landline_expires_at = until
    resident.save(update_fields=["activated_at", "expires_at", "landline_activated_at", "landline_expires_at",
                                 "updated_at"])
    audit(acting_user=acting_user, action="resident.activate", obj=resident, before=before,
          after=snapshot(resident, ["activated_at", "expires_at", "landline_activated_at", "landline_expires_at"]))
    return resident


def _validate_family_member(member: FamilyMember) -> None:
    errors: dict[str, list[str]] = {}
    _refuse_unstorable_text(member, FAMILY_MEMBER_FIELDS, errors)
    for field in ("name", "email"):
        setattr(member, field, (getattr(member, field) or "").strip())
    member.email = Account.objects.normalize_email(member.email)
    _clean_contact(member, errors)
    try:
        member.full_clean(exclude=["installer", "resident", "personal_sip"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def family_member_refusal(resident: Resident) -> str:
    """Why no family member can be added to this user now ("" when one can)."""
    if not resident.is_active_service:
        return _("Only an activated user can have family members: %(name)s is %(status)s.") % {
            "name": resident.name, "status": resident.get_active_status_display()}
    if resident.family_member_count >= resident.family_member_limit:
        return _("%(name)s already has %(n)s family members, the most this user may have. "
                 "Buy Additional App in Subscription to add more.") % {
            "name": resident.name, "n": resident.family_member_limit}
    return ""


@transaction.atomic
def family_member_create(*, acting_user: Account, resident: Resident, **data: Any) -> FamilyMember:
    _check_fields(data, FAMILY_MEMBER_FIELDS)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    refusal = family_member_refusal(resident)
    if refusal:
        raise ValidationError({"family_members": [refusal]}, code="refused")
    member = FamilyMember(installer=resident.installer, resident=resident, **data)
    _validate_family_member(member)
    sip = sip_account_create(kind=SipKind.PERSONAL, installer=resident.installer, family_number=resident.family_sip,
                             display_name=member.name)
    member.personal_sip = sip.number
    member.save()
    if member.email:
        member.account = _resident_login(email=member.email, name=member.name, language=resident.language,
                                         time_zone=resident.time_zone, username=member.personal_sip)
        member.save(update_fields=["account"])
    resident.family_member_count = resident.family_members.count()
    resident.save(update_fields=["family_member_count", "updated_at"])
    audit(acting_user=acting_user, action="family_member.create", obj=member, after=snapshot(member))
    _send_welcome(member.account, resident.language, member.name)
    return member


@transaction.atomic
def family_member_update(*, acting_user: Account, member: FamilyMember, **data: Any) -> FamilyMember:
    _check_fields(data, FAMILY_MEMBER_FIELDS)
    before = snapshot(member)
    for key, value in data.items():
        setattr(member, key, value)
    _validate_family_member(member)
    member.save()
    SipAccount.objects.filter(number=member.personal_sip).update(display_name=member.name[:128])
    if member.account_id:
        Account.objects.filter(pk=member.account_id).update(email=member.email, name=member.name)
    elif member.email:
        resident = member.resident
        member.account = _resident_login(email=member.email, name=member.name, language=resident.language,
                                         time_zone=resident.time_zone, username=member.personal_sip)
        member.save(update_fields=["account"])
        _send_welcome(member.account, resident.language, member.name)
    b, a = changed(before, snapshot(member))
    if a:
        audit(acting_user=acting_user, action="family_member.update", obj=member, before=b, after=a)
    return member


@transaction.atomic
def family_member_delete(*, acting_user: Account, member: FamilyMember) -> None:
    resident = Resident.objects.select_for_update().get(pk=member.resident_id)
    audit(acting_user=acting_user, action="family_member.delete", obj=member, before=snapshot(member))
    sip_account_deactivate(number=member.personal_sip)
    account_id = member.account_id
    member.delete()
    if account_id:
        Account.objects.filter(pk=account_id, role=Role.RESIDENT).delete()
    resident.family_member_count = resident.family_members.count()
    resident.save(update_fields=["family_member_count", "updated_at"])


@transaction.atomic
def resident_set_family_member_limit(*, acting_user: Account | None, resident: Resident, limit: int) -> Resident:
    """Billing's Additional App raises this."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    before = {"family_member_limit": resident.family_member_limit}
    resident.family_member_limit = limit
    resident.save(update_fields=["family_member_limit", "updated_at"])
    audit(acting_user=acting_user, action="resident.family_member_limit", obj=resident, before=before,
          after={"family_member_limit": limit})
    return resident


@transaction.atomic
def resident_reset_password(*, acting_user: Account, resident: Resident) -> bool:
    """E-mail the resident a new set-password link; their old password stops working."""
    if resident.account_id is None:
        raise ValidationError({"email": [_("This user has no e-mail address, so there is no account to reset.")]})
    account = resident.account
    before = {"password_usable": account.has_usable_password(), "email": account.email}
    account.set_unusable_password()
    account.save(update_fields=["password"])
    audit(acting_user=acting_user, action="resident.reset_password", obj=resident, before=before,
          after={"password_usable": False, "email": account.email, "set_password_email_sent": bool(account.email)})
    _send_welcome(account, resident.language, resident.name, purpose="reset")
    return True


__all__ = [
    "family_member_create",
    "family_member_delete",
    "family_member_refusal",
    "family_member_update",
    "resident_activate",
    "resident_create",
    "resident_delete",
    "resident_reset_password",
    "resident_set_family_member_limit",
    "resident_update",
]
