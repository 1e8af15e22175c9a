"""Writes of the admin, distributor, account and help portals. Every change is audited once."""
from __future__ import annotations

import pyotp
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.accounts.services import password_setup_url, send_password_setup_email
from entryway.core.audit import audit, changed, snapshot
from entryway.core.validators import normalize_phone, validate_language, validate_time_zone
from entryway.devices.choices import MAX_RELAYS, DeviceType
from entryway.devices.models import DeviceModel
from entryway.portals.choices import TicketStatus
from entryway.portals.models import BODY_MAX, SUBJECT_MAX, Ticket, TicketMessage

ACCOUNT_AUDIT_FIELDS = ["username", "name", "email", "role", "parent", "is_active", "language", "time_zone"]



def _require(acting_user: Account, *roles: str) -> None:
    if getattr(acting_user, "role", None) not in roles:
        raise PermissionDenied(_("This action is not for your role."))


def _refuse_control_characters(errors: dict, **values: str) -> None:
    for key, value in values.items():
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value or ""):
            errors.setdefault(key, []).append(_("Control characters are not allowed."))


# --------------------------------------------------------------------------- accounts (admin, distributor)

def _new_login(*, role: str, parent: Account | None, username: str, name: str, email: str,
               language: str, time_zone: str) -> Account:
    username = (username or "").strip()
    name = (name or "").strip()
    email = (email or "").strip()
    errors: dict[str, list[str]] = {}
    _refuse_control_characters(errors, username=username, name=name, email=email)
    if not email:
        errors.setdefault("email", []).append(_("An e-mail address is needed to send the set-password link."))
    if username and Account.objects.filter(username__iexact=username).exists():
        errors.setdefault("username", []).append(_("This username is already taken."))
    if errors:
        raise ValidationError(errors)
    account = Account(username=username, name=name, email=email, role=role, parent=parent,
                      language=language or "en", time_zone=time_zone or "UTC")
    account.set_unusable_password()
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def distributor_create(*, acting_user: Account, username: str, name: str, email: str, language: str = "en",
                       time_zone: str = "UTC") -> Account:
    """The platform admin opens a distributor account; the distributor sets its password from an e-mail."""
    _require(acting_user, Role.ADMIN)
    account = _new_login(role=Role.DISTRIBUTOR, parent=None, username=username, name=name, email=email,
                         language=language, time_zone=time_zone)
    audit(acting_user=acting_user, action="distributor.create", obj=account,
          after=snapshot(account, ACCOUNT_AUDIT_FIELDS))
    transaction.on_commit(lambda: send_password_setup_email(account=account, language=account.language))
    return account


@transaction.atomic
def installer_create(*, acting_user: Account, username: str, name: str, email: str, language: str = "en",
                     time_zone: str = "UTC") -> Account:
    """A distributor opens an installer account; the e-mail with the set-password link is in its language."""
    _require(acting_user, Role.DISTRIBUTOR)
    account = _new_login(role=Role.INSTALLER, parent=acting_user, username=username, name=name, email=email,
                         language=language, time_zone=time_zone)
    audit(acting_user=acting_user, action="installer.create", obj=account, installer=account,
          after=snapshot(account, ACCOUNT_AUDIT_FIELDS))
    transaction.on_commit(lambda: send_password_setup_email(account=account, language=account.language))
    return account


def _check_manages(acting_user: Account, account: Account) -> None:
    """Admins manage distributors; a distributor manages its own installers. Nothing else."""
    if acting_user.role == Role.ADMIN and account.role in (Role.DISTRIBUTOR, Role.INSTALLER):
        return
    if acting_user.role == Role.DISTRIBUTOR and account.role == Role.INSTALLER and account.parent_id == acting_user.pk:
        return
    raise PermissionDenied(_("You do not manage this account."))


@transaction.atomic
def account_set_active(*, acting_user: Account, account: Account, active: bool) -> Account:
    """Disable (or enable again) a distributor or an installer. A disabled account cannot log in."""
    _check_manages(acting_user, account)
    if account.is_active == active:
        return account
    account.is_active = active
    account.save(update_fields=["is_active"])
    audit(acting_user=acting_user, action=f"{account.role}.{'enable' if active else 'disable'}", obj=account,
          installer=account if account.role == Role.INSTALLER else None,
          before={"is_active": not active}, after={"is_active": active})
    return account


def send_installer_reset_email(account: Account) -> bool:
    if not account.email:
        return False
    with translation.override(account.language or "en"):
        context = {"name": account.display_name, "username": account.username, "url": password_setup_url(account),
                   "platform": "entryway"}
        subject = render_to_string("portals/email/installer_reset_subject.txt", context).strip()
        body = render_to_string("portals/email/installer_reset_body.txt", context)
    send_mail(subject, body, None, [account.email])
    return True


@transaction.atomic
def installer_reset_password(*, acting_user: Account, installer: Account) -> Account:
    """The distributor resets an installer's password: the old one stops working, a new link is e-mailed."""
    _check_manages(acting_user, installer)
    if installer.role != Role.INSTALLER:
        raise PermissionDenied(_("You do not manage this account."))
    if not installer.email:
        raise ValidationError({"email": [_("This installer has no e-mail address to send the link to.")]})
    installer.set_unusable_password()
    installer.save(update_fields=["password"])
    audit(acting_user=acting_user, action="installer.reset_password", obj=installer, installer=installer,
          after={"password_usable": False, "set_password_email_sent": True})
    transaction.on_commit(lambda: send_installer_reset_email(installer))
    return installer


# --------------------------------------------------------------------------- device-model catalog

def _device_model_values(name: str, device_type: str, description: str, relay_count) -> dict:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip().upper()
    description = (description or "").strip()
    _refuse_control_characters(errors, name=name, description=description)
    if device_type not in DeviceType.values:
        errors.setdefault("device_type", []).append(_("Choose a device type from the list."))
    try:
        relay_count = int(relay_count)
    except (TypeError, ValueError):
        relay_count = -1
    if not 0 <= relay_count <= MAX_RELAYS:
        errors.setdefault("relay_count", []).append(_("A device has 0 to %(max)s relays.") % {"max": MAX_RELAYS})
    if errors:
        raise ValidationError(errors)
    return {"name": name, "device_type": device_type, "description": description, "relay_count": relay_count}


@transaction.atomic
def device_model_create(*, acting_user: Account, name: str, device_type: str, description: str = "",
                        relay_count: int = 4) -> DeviceModel:
    _require(acting_user, Role.ADMIN)
    model = DeviceModel(**_device_model_values(name, device_type, description, relay_count))
    model.full_clean()
    model.save()
    audit(acting_user=acting_user, action="device_model.create", obj=model, after=snapshot(model))
    return model


@transaction.atomic
def device_model_update(*, acting_user: Account, device_model: DeviceModel, name: str, device_type: str,
                        description: str = "", relay_count: int = 4) -> DeviceModel:
    _require(acting_user, Role.ADMIN)
    before = snapshot(device_model)
    for key, value in _device_model_values(name, device_type, description, relay_count).items():
        setattr(device_model, key, value)
    device_model.full_clean()
    device_model.save()
    old, new = changed(before, snapshot(device_model))
    if new:
        audit(acting_user=acting_user, action="device_model.update", obj=device_model, before=old, after=new)
    return device_model


# --------------------------------------------------------------------------- the account menu

@transaction.atomic
def customer_service_update(*, acting_user: Account, phone: str, email: str) -> Account:
    """Customer Service: Phone and Email, both required. Installers show theirs to residents,
    distributors to their installers."""
    _require(acting_user, Role.INSTALLER, Role.DISTRIBUTOR)
    errors: dict[str, list[str]] = {}
    phone = (phone or "").strip()
    email = (email or "").strip()
    if not phone:
        errors["phone"] = [_("This field is required.")]
    else:
        try:
            phone = normalize_phone(phone, "")
        except ValidationError as exc:
            errors["phone"] = exc.messages
    if not email:
        errors["email"] = [_("This field is required.")]
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Enter a valid email address.")]
    if errors:
        raise ValidationError(errors)
    before = snapshot(acting_user, ["customer_service_phone", "customer_service_email"])
    acting_user.customer_service_phone, acting_user.customer_service_email = phone, email
    acting_user.save(update_fields=["customer_service_phone", "customer_service_email"])
    old, new = changed(before, snapshot(acting_user, ["customer_service_phone", "customer_service_email"]))
    if new:
        audit(acting_user=acting_user, action="customer_service.update", obj=acting_user,
              installer=acting_user if acting_user.role == Role.INSTALLER else None, before=old, after=new)
    return acting_user


@transaction.atomic
def account_access_set(*, acting_user: Account, enabled: bool) -> Account:
    """The distributor's "account access" switch: only when it is on can installers grant access."""
    _require(acting_user, Role.DISTRIBUTOR)
    if acting_user.account_access_enabled != enabled:
        acting_user.account_access_enabled = enabled
        acting_user.save(update_fields=["account_access_enabled"])
        audit(acting_user=acting_user, action="account_access.set", obj=acting_user,
              before={"account_access_enabled": not enabled}, after={"account_access_enabled": enabled})
    return acting_user


def account_access_offered(installer: Account) -> bool:
    """Whether the installer's distributor has enabled the account access feature."""
    parent = installer.parent
    return bool(parent and parent.is_active and parent.account_access_enabled)


@transaction.atomic
def permission_granted_set(*, acting_user: Account, granted: bool) -> Account:
    """Account Setting → Permission Granted: lets the distributor log in to this account without a password."""
    _require(acting_user, Role.INSTALLER)
    if granted and not account_access_offered(acting_user):
        raise ValidationError({"permission_granted": [
            _("Your distributor has not enabled account access, so the permission cannot be granted.")]})
    if acting_user.permission_granted != granted:
        acting_user.permission_granted = granted
        acting_user.save(update_fields=["permission_granted"])
        audit(acting_user=acting_user, action="permission_granted.set", obj=acting_user, installer=acting_user,
              before={"permission_granted": not granted}, after={"permission_granted": granted})
    return acting_user


_http_url = URLValidator(schemes=["http", "https"])


@transaction.atomic
def account_preferences_update(*, acting_user: Account, language: str, time_zone: str,
                               smart_home_url: str | None = None) -> Account:
    """Language, Time Zone and, for installers, the smart-home portal the Smart Home icon opens."""
    errors: dict[str, list[str]] = {}
    fields = ["language", "time_zone"]
    for key, value, check in (("language", language, validate_language), ("time_zone", time_zone, validate_time_zone)):
        try:
            if not value:
                raise ValidationError(_("This field is required."))
            check(value)
        except ValidationError as exc:
            errors[key] = exc.messages
    if smart_home_url is not None:
        _require(acting_user, Role.INSTALLER)
        smart_home_url = smart_home_url.strip()
        fields.append("smart_home_url")
        if smart_home_url:
            try:
                _http_url(smart_home_url)
            except ValidationError:
                errors["smart_home_url"] = [_("Enter a web address starting with https:// or http://.")]
    if errors:
        raise ValidationError(errors)
    before = snapshot(acting_user, fields)
    acting_user.language, acting_user.time_zone = language, time_zone
    if smart_home_url is not None:
        acting_user.smart_home_url = smart_home_url
    acting_user.full_clean(exclude=["password", "username", "parent"])
    acting_user.save(update_fields=fields)
    old, new = changed(before, snapshot(acting_user, fields))
    if new:
        audit(acting_user=acting_user, action="account.preferences", obj=acting_user,
              installer=acting_user if acting_user.role == Role.INSTALLER else None, before=old, after=new)
    return acting_user


# --------------------------------------------------------------------------- two-factor login (TOTP)

def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_verify(account: Account, code: str, secret: str | None = None) -> bool:
    """A 6-digit code of the account's (or the given) secret, in the current or an adjacent 30 s step.

    Each code is accepted once: a replayed code is refused.
    """
    code = "".join((code or "").split())
    secret = secret or account.totp_secret
    if not secret or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now = timezone.now()
    for offset in (0, -1, 1):
        at = now + timezone.timedelta(seconds=30 * offset)
        if totp.at(at) == code:
            step = totp.timecode(at)
            return cache.add(f"totp-used:{account.pk}:{step}:{code}", 1, 120)
    return False


@transaction.atomic
def totp_enable(*, acting_user: Account, secret: str, code: str) -> Account:
    if acting_user.role == Role.RESIDENT:
        raise PermissionDenied(_("This action is not for your role."))
    if not totp_verify(acting_user, code, secret=secret):
        raise ValidationError({"code": [_("The code is not right. Check the clock of your phone and try again.")]})
    acting_user.totp_secret = secret
    acting_user.totp_enabled = True
    acting_user.save(update_fields=["totp_secret", "totp_enabled"])
    audit(acting_user=acting_user, action="two_factor.enable", obj=acting_user,
          installer=acting_user if acting_user.role == Role.INSTALLER else None,
          before={"totp_enabled": False}, after={"totp_enabled": True})
    return acting_user


@transaction.atomic
def totp_disable(*, acting_user: Account, code: str) -> Account:
    if not acting_user.totp_enabled:
        return acting_user
    if not totp_verify(acting_user, code):
        raise ValidationError({"code": [_("The code is not right. Check the clock of your phone and try again.")]})
    acting_user.totp_secret = ""
    acting_user.totp_enabled = False
    acting_user.save(update_fields=["totp_secret", "totp_enabled"])
    audit(acting_user=acting_user, action="two_factor.disable", obj=acting_user,
          installer=acting_user if acting_user.role == Role.INSTALLER else None,
          before={"totp_enabled": True}, after={"totp_enabled": False})
    return acting_user


# --------------------------------------------------------------------------- log in as

def login_as_refusal(distributor: Account, installer: Account) -> str:
    """Why a distributor may not switch into an installer's portal now ('' when it may)."""
    if distributor.role != Role.DISTRIBUTOR or installer.role != Role.INSTALLER \
            or installer.parent_id != distributor.pk:
        return _("This installer is not one of yours.")
    if not distributor.is_active:
        return _("Your account is disabled.")
    if not distributor.account_access_enabled:
        return _("Account access is turned off for your installers.")
    if not installer.is_active:
        return _("This installer's account is disabled.")
    if not installer.permission_granted:
        return _("%(name)s has not granted you permission to access their account.") % {
            "name": installer.display_name}
    return ""


def login_as_start(*, acting_user: Account, installer: Account) -> None:
    """Audit the switch, or refuse it (audited too) with the reason."""
    reason = login_as_refusal(acting_user, installer)
    if reason:
        audit(acting_user=acting_user, action="access.login_as_refused", obj=installer,
              installer=installer if installer.parent_id == acting_user.pk else None, after={"reason": reason})
        raise PermissionDenied(reason)
    audit(acting_user=acting_user, action="access.login_as", obj=installer, installer=installer,
          after={"distributor": acting_user.username})


def login_as_end(*, acting_user: Account, installer: Account, reason: str = "back") -> None:
    audit(acting_user=acting_user, action="access.login_as_end", obj=installer, installer=installer,
          after={"reason": reason})


def access_refused(*, acting_user: Account, obj, what: str) -> None:
    """Record an attempt to reach data outside the caller's scope."""
    audit(acting_user=acting_user, action="access.refused", obj=obj, installer=None,
          after={"what": what, "role": getattr(acting_user, "role", "")})


# --------------------------------------------------------------------------- support tickets

def _ticket_text(subject: str | None, body: str) -> tuple[str | None, str]:
    errors: dict[str, list[str]] = {}
    body = (body or "").strip()
    if subject is not None:
        subject = subject.strip()
        if not subject:
            errors["subject"] = [_("This field is required.")]
        elif len(subject) > SUBJECT_MAX:
            errors["subject"] = [_("At most %(n)s characters.") % {"n": SUBJECT_MAX}]
    if not body:
        errors["body"] = [_("This field is required.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("At most %(n)s characters.") % {"n": BODY_MAX}]
    _refuse_control_characters(errors, subject=subject or "", body=body)
    if errors:
        raise ValidationError(errors)
    return subject, body


@transaction.atomic
def ticket_create(*, acting_user: Account, subject: str, body: str) -> Ticket:
    """An installer opens a support ticket to its distributor."""
    _require(acting_user, Role.INSTALLER)
    subject, body = _ticket_text(subject, body)
    now = timezone.now()
    ticket = Ticket.objects.create(installer=acting_user, subject=subject, status=TicketStatus.OPEN,
                                   last_message_at=now)
    TicketMessage.objects.create(ticket=ticket, author=acting_user, author_role=acting_user.role, body=body)
    audit(acting_user=acting_user, action="ticket.create", obj=ticket, after={"subject": subject})
    return ticket


def _check_ticket_party(acting_user: Account, ticket: Ticket) -> None:
    if acting_user.role == Role.ADMIN:
        return
    if acting_user.role == Role.INSTALLER and ticket.installer_id == acting_user.pk:
        return
    if acting_user.role == Role.DISTRIBUTOR and ticket.installer.parent_id == acting_user.pk:
        return
    raise PermissionDenied(_("This ticket is not yours."))


@transaction.atomic
def ticket_reply(*, acting_user: Account, ticket: Ticket, body: str) -> TicketMessage:
    """A reply in the thread. The distributor's answer marks it Answered; the installer's reopens it."""
    _check_ticket_party(acting_user, ticket)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status == TicketStatus.CLOSED:
        raise ValidationError({"body": [_("This ticket is closed. Open a new ticket to ask again.")]})
    _subject, body = _ticket_text(None, body)
    message = TicketMessage.objects.create(ticket=ticket, author=acting_user, author_role=acting_user.role, body=body)
    before = ticket.status
    ticket.status = TicketStatus.OPEN if acting_user.role == Role.INSTALLER else TicketStatus.ANSWERED
    ticket.last_message_at = message.created_at
    ticket.save(update_fields=["status", "last_message_at", "updated_at"])
    audit(acting_user=acting_user, action="ticket.reply", obj=ticket, before={"status": before},
          after={"status": ticket.status, "message": message.pk})
    return message


@transaction.atomic
def ticket_close(*, acting_user: Account, ticket: Ticket) -> Ticket:
    _check_ticket_party(acting_user, ticket)
    if ticket.status != TicketStatus.CLOSED:
        before = ticket.status
        ticket.status = TicketStatus.CLOSED
        ticket.save(update_fields=["status", "updated_at"])
        audit(acting_user=acting_user, action="ticket.close", obj=ticket, before={"status": before},
              after={"status": ticket.status})
    return ticket
