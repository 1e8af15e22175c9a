"""Writes on messages. Views, the API, tasks and the device-result handler all come through here.

A message goes out in one transaction: the message, its receivers, one display action per
indoor monitor (``actions_bulk_create``, one insert) and one inbox row per app login. Nothing is
written when any input is wrong.
"""
from __future__ import annotations

import datetime
from typing import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from entryway.core.audit import audit, snapshot
from entryway.deviceapi.choices import ActionKind, ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_cancel, actions_bulk_create
from entryway.devices.choices import DeviceType
from entryway.devices.models import IntercomDevice
from entryway.messaging.choices import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, DeliveryStatus, ReceiverType
from entryway.messaging.models import InboxItem, Message, MessageReceiver, MonitorDelivery
from entryway.residents.models import FamilyMember, Resident

RECEIVER_NAMES_LENGTH = 255
MAX_ID = 2**63 - 1

# What a device's final report means for the message on that monitor.
_ACTION_TO_DELIVERY = {
    ActionStatus.SUCCESS: DeliveryStatus.DELIVERED,
    ActionStatus.FAILURE: DeliveryStatus.FAILED,
    ActionStatus.EXPIRED: DeliveryStatus.EXPIRED,
    ActionStatus.CANCELLED: DeliveryStatus.CANCELLED,
}


def device_expiry() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.MESSAGE_DEVICE_EXPIRY_SECONDS)


def _receiver_ids(receivers: Iterable, errors: dict) -> list[int]:
    ids: list[int] = []
    bad: list[str] = []
    for item in receivers or []:
        raw = getattr(item, "pk", item)
        try:
            value = int(raw)
            if value <= 0 or value > MAX_ID or isinstance(raw, bool):
                raise ValueError
        except (TypeError, ValueError):
            bad.append(str(raw)[:20])
            continue
        if value not in ids:
            ids.append(value)
    if bad:
        errors.setdefault("receivers", []).append(
            _("These are not user ids: %(values)s.") % {"values": ", ".join(bad[:10])}
        )
    return ids


def _validate(*, installer, title, body, receiver_type, receivers, send_email) -> tuple[str, str, list[Resident]]:
    errors: dict[str, list[str]] = {}
    title = str(title or "").strip()
    body = str(body or "").strip()
    for name, value, label, limit in (("title", title, _("Message Title"), TITLE_MAX_LENGTH),
                                      ("body", body, _("Message"), BODY_MAX_LENGTH)):
        if not value:
            errors.setdefault(name, []).append(_("%(field)s is required.") % {"field": label})
        elif len(value) > limit:
            errors.setdefault(name, []).append(
                _("%(field)s has %(n)s characters; %(max)s at most.") % {"field": label, "n": len(value), "max": limit}
            )
        elif "\x00" in value:
            errors.setdefault(name, []).append(_("%(field)s contains a null character.") % {"field": label})
    if receiver_type not in ReceiverType.values:
        errors.setdefault("receiver_type", []).append(
            _("Receiver type must be one of: %(choices)s.")
            % {"choices": ", ".join(f"{v} ({label})" for v, label in ReceiverType.choices)}
        )
    elif send_email and not ReceiverType.reaches_app(receiver_type):
        errors.setdefault("send_email", []).append(
            _("The e-mail copy goes with the app message: choose a receiver type that includes the app.")
        )
    ids = _receiver_ids(receivers, errors)
    residents: list[Resident] = []
    if not ids and "receivers" not in errors:
        errors.setdefault("receivers", []).append(_("Select at least one receiver."))
    elif len(ids) > settings.MESSAGE_MAX_RECEIVERS:
        errors.setdefault("receivers", []).append(
            _("A message goes to %(max)s users at most; %(n)s were selected.")
            % {"max": settings.MESSAGE_MAX_RECEIVERS, "n": len(ids)}
        )
    elif ids:
        found = {r.pk: r for r in Resident.objects.filter(installer=installer, pk__in=ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            errors.setdefault("receivers", []).append(
                ngettext(
                    "User %(ids)s is not one of your users.",
                    "Users %(ids)s are not among your users.",
                    len(missing),
                ) % {"ids": ", ".join(str(i) for i in missing[:10])}
            )
        residents = [found[i] for i in ids if i in found]
    if errors:
        raise ValidationError(errors)
    return title, body, residents


def _summary(names: list[str]) -> str:
    """The receivers' names for the list column, cut at a name boundary."""
    full = ", ".join(names)
    if len(full) <= RECEIVER_NAMES_LENGTH:
        return full
    out = ""
    for name in names:
        candidate = f"{out}, {name}" if out else name
        if len(candidate) + len(", …") > RECEIVER_NAMES_LENGTH:
            break
        out = candidate
    return f"{out}, …" if out else names[0][: RECEIVER_NAMES_LENGTH - 1] + "…"


@transaction.atomic
def message_create(
    *,
    acting_user,
    title: str,
    body: str,
    receiver_type: str,
    receivers: Iterable,
    send_email: bool = False,
    installer=None,
) -> Message:
    """Send a message to users of one installer: their indoor monitors, their apps, or both.

    ``receivers`` are the installer's users (``Resident`` objects or ids). Raises ``ValidationError``
    with field keys (title, body, receiver_type, receivers, send_email); then nothing is sent.
    """
    installer = installer or acting_user
    if getattr(installer, "role", None) != "installer":
        raise ValidationError({"receivers": [_("Messages are sent by an installer to their own users.")]})
    if acting_user.pk != installer.pk and getattr(acting_user, "role", None) != "admin":
        raise PermissionDenied(_("Only the installer sends messages to their users."))
    title, body, residents = _validate(installer=installer, title=title, body=body, receiver_type=receiver_type,
                                       receivers=receivers, send_email=bool(send_email))
    resident_ids = [r.pk for r in residents]
    monitors: list[IntercomDevice] = []
    if ReceiverType.reaches_monitors(receiver_type):
        monitors = list(
            IntercomDevice.objects.filter(owner_id__in=resident_ids, installer=installer,
                                          device_model__device_type=DeviceType.INDOOR_MONITOR)
            .only("id", "mac", "location", "owner_id", "installer_id").order_by("owner_id", "location", "id")
        )
    app_logins: list[tuple[int, int, str, bool]] = []  # (resident id, account id, name, is host)
    if ReceiverType.reaches_app(receiver_type):
        app_logins = [(r.pk, r.account_id, r.name, True) for r in residents if r.account_id]
        app_logins += [
            (m.resident_id, m.account_id, m.name, False)
            for m in FamilyMember.objects.filter(resident_id__in=resident_ids, account__isnull=False)
            .only("id", "resident_id", "account_id", "name").order_by("resident_id", "created_at", "id")
        ]
    if receiver_type == ReceiverType.INDOOR_MONITOR and not monitors:
        raise ValidationError({"receiver_type": [
            _("None of the selected users has an indoor monitor: nothing would be delivered.")]})
    if receiver_type == ReceiverType.APP and not app_logins:
        raise ValidationError({"receiver_type": [
            _("None of the selected users has an app login: nothing would be delivered.")]})
    if receiver_type == ReceiverType.BOTH and not monitors and not app_logins:
        raise ValidationError({"receiver_type": [
            _("None of the selected users has an indoor monitor or an app login: nothing would be delivered.")]})

    names = [r.name for r in residents]
    message = Message(
        installer=installer, title=title, body=body, receiver_type=receiver_type, send_email=bool(send_email),
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
        receiver_count=len(residents), receiver_names=_summary(names),
        monitor_count=len(monitors), app_count=len(app_logins),
    )
    message.full_clean(exclude=["installer", "created_by"])
    message.save()

    receiver_rows = MessageReceiver.objects.bulk_create(
        [MessageReceiver(message=message, resident=r, name=r.name[:64], uid=r.family_sip, email=r.email)
         for r in residents],
        batch_size=2000,
    )
    receiver_by_resident = {row.resident_id: row for row in receiver_rows}

    if monitors:
        payload = {"title": title, "body": body, "message_id": message.pk}
        actions = actions_bulk_create(
            devices=monitors, kind=ActionKind.MESSAGE, payload_for=payload, acting_user=acting_user,
            expires_at=timezone.now() + device_expiry(),
        )
        MonitorDelivery.objects.bulk_create(
            [MonitorDelivery(message=message, receiver=receiver_by_resident[d.owner_id], device=d, mac=d.mac,
                             location=d.location, action=a) for d, a in zip(monitors, actions)],
            batch_size=2000,
        )
    if app_logins:
        InboxItem.objects.bulk_create(
            [InboxItem(installer=installer, message=message, receiver=receiver_by_resident[rid], account_id=aid,
                       name=name[:64], is_host=host) for rid, aid, name, host in app_logins],
            batch_size=2000,
        )
    audit(acting_user=acting_user, action="message.create", obj=message,
          after={**snapshot(message, ["title", "receiver_type", "send_email", "receiver_count", "monitor_count",
                                      "app_count"]), "receivers": resident_ids[:100]})
    if message.send_email and app_logins:
        from entryway.messaging.tasks import send_message_emails

        message_id = message.pk
        transaction.on_commit(lambda: send_message_emails(message_id))
    return message


@transaction.atomic
def message_delete(*, acting_user, message: Message) -> None:
    """Delete a message: gone from the list and every inbox; monitors that have not shown it yet never will."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    open_actions = DeviceAction.objects.filter(
        pk__in=message.deliveries.filter(status=DeliveryStatus.PENDING, action__isnull=False).values("action_id"),
    )
    for action in open_actions:
        action_cancel(action=action, detail="The message was deleted.")
    audit(acting_user=acting_user, action="message.delete", obj=message,
          before=snapshot(message, ["title", "body", "receiver_type", "receiver_count", "created_at"]))
    message.delete()


def inbox_item_mark_read(*, account, item: InboxItem) -> InboxItem:
    """A resident opened the message in the app or the resident portal. Reading twice changes nothing."""
    if item.account_id != account.pk:
        raise PermissionDenied(_("This message is in another person's inbox."))
    if item.read_at is None:
        now = timezone.now()
        InboxItem.objects.filter(pk=item.pk, read_at__isnull=True).update(read_at=now, updated_at=now)
        item.refresh_from_db(fields=["read_at", "updated_at"])
    return item


def message_delivery_record(action: DeviceAction) -> None:
    """Result handler for "message" device actions: a monitor displayed it, failed, or never came back."""
    new_status = _ACTION_TO_DELIVERY.get(action.status)
    if new_status is None:
        return
    deliveries = MonitorDelivery.objects.filter(action_id=action.pk)
    if not deliveries.exists():
        message_id = (action.payload or {}).get("message_id")
        deliveries = MonitorDelivery.objects.filter(message_id=message_id, device_id=action.device_id)
    values = {"status": new_status, "updated_at": timezone.now()}
    if new_status == DeliveryStatus.DELIVERED:
        values["delivered_at"] = action.finished_at or timezone.now()
    deliveries.filter(status=DeliveryStatus.PENDING).update(**values)


def message_emails_send(*, message_id: int) -> int:
    """E-mail a copy to each app recipient with an address, in their own language. Running twice sends once."""
    message = Message.objects.select_related("installer").filter(pk=message_id).first()
    if message is None or not message.send_email:
        return 0
    sent = 0
    items = (InboxItem.objects.filter(message=message, emailed_at__isnull=True)
             .select_related("account").order_by("id"))
    for item in items:
        account = item.account
        if not account.email or not account.is_active:
            continue
        claimed = InboxItem.objects.filter(pk=item.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
        if not claimed:
            continue
        with translation.override(account.language or "en"):
            context = {
                "name": item.name,
                "installer": message.installer.name or message.installer.username,
                "title": message.title,
                "body": message.body,
                "url": settings.PUBLIC_BASE_URL.rstrip("/") + "/resident/messages/" + str(message.pk) + "/",
            }
            subject = " ".join(render_to_string("messaging/email/message_subject.txt", context).split())
            text = render_to_string("messaging/email/message_body.txt", context)
        send_mail(subject, text, None, [account.email])
        sent += 1
    return sent
