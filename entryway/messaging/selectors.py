"""Reads on messages that depend on who asks."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from entryway.deviceapi.choices import ActionStatus
from entryway.messaging.choices import DeliveryStatus, ReadFilter
from entryway.messaging.models import InboxItem, Message, MessageReceiver, MonitorDelivery
from entryway.residents.models import Resident

RECEIVER_SEARCH_LIMIT = 100
LIST_FIELDS = ("id", "installer_id", "title", "body", "receiver_type", "receiver_count", "receiver_names",
               "created_at")


def message_list(user, *, q: str = "", field: str = "message"):
    return Message.objects.visible_to(user).search(q, field).only(*LIST_FIELDS)


def receiver_candidates(user, *, q: str = "", limit: int = RECEIVER_SEARCH_LIMIT) -> tuple[list[Resident], int]:
    """The installer's users matching UID (Family SIP), Email or Name: the first ``limit`` and how many match."""
    qs = Resident.objects.visible_to(user).search((q or "").replace("\x00", "")).order_by("name", "id")
    rows = list(qs.only("id", "name", "email", "family_sip", "account_id")[: limit + 1])
    if len(rows) <= limit:
        return rows, len(rows)
    return rows[:limit], qs.count()


def residents_by_ids(user, ids: list[int]) -> list[Resident]:
    if not ids:
        return []
    return list(Resident.objects.visible_to(user).filter(pk__in=ids).only("id", "name", "email", "family_sip")
                .order_by("name", "id"))


@dataclass
class ReceiverReport:
    receiver: MessageReceiver
    deliveries: list[MonitorDelivery] = field(default_factory=list)
    inbox_items: list[InboxItem] = field(default_factory=list)


def delivery_label(delivery: MonitorDelivery) -> str:
    """Pending until the monitor reports; "sent" once a check-in handed it over."""
    if delivery.status == DeliveryStatus.PENDING and delivery.action is not None \
            and delivery.action.status in (ActionStatus.SENT, ActionStatus.PROCEEDING):
        return "sent"
    return delivery.status


def receiver_reports(message: Message, receivers: list[MessageReceiver]) -> list[ReceiverReport]:
    """For each receiver: the message on each of their indoor monitors and in each app login's inbox."""
    by_id = {r.pk: ReceiverReport(receiver=r) for r in receivers}
    if not by_id:
        return []
    for d in (MonitorDelivery.objects.filter(message=message, receiver_id__in=by_id)
              .select_related("action").only("id", "receiver_id", "mac", "location", "status", "delivered_at",
                                             "action__id", "action__status")):
        d.label = delivery_label(d)
        by_id[d.receiver_id].deliveries.append(d)
    for item in (InboxItem.objects.filter(message=message, receiver_id__in=by_id)
                 .only("id", "receiver_id", "name", "is_host", "read_at", "emailed_at")
                 .order_by("-is_host", "id")):
        by_id[item.receiver_id].inbox_items.append(item)
    return [by_id[r.pk] for r in receivers]


def message_totals(message: Message) -> dict:
    d = message.deliveries.aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
        pending=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
        expired=Count("id", filter=Q(status=DeliveryStatus.EXPIRED)),
        failed=Count("id", filter=Q(status__in=[DeliveryStatus.FAILED, DeliveryStatus.CANCELLED])),
    )
    a = message.inbox_items.aggregate(total=Count("id"), read=Count("id", filter=Q(read_at__isnull=False)))
    return {"monitors": d, "app": {"total": a["total"], "read": a["read"], "unread": a["total"] - a["read"]}}


def inbox_for(user, *, status: str = ReadFilter.ALL):
    qs = InboxItem.objects.visible_to(user).select_related("message", "installer")
    if status == ReadFilter.UNREAD:
        qs = qs.unread()
    elif status == ReadFilter.READ:
        qs = qs.read()
    return qs.order_by("-created_at", "-id")


def unread_count(user) -> int:
    return InboxItem.objects.visible_to(user).unread().count()
