"""Messages in the user API: installers send and review them; residents read their inbox."""
from __future__ import annotations

import datetime
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from entryway.api.auth import installer_auth, resident_auth
from entryway.api.schemas import COMMON_ERRORS, Page, paginate_queryset
from entryway.core.access import get_visible_or_404
from entryway.messaging import selectors, services
from entryway.messaging.choices import ReadFilter
from entryway.messaging.models import InboxItem, Message

router = Router(tags=["Message"])


class MessageIn(Schema):
    title: str = Field(..., description="Message Title, 64 characters at most.")
    body: str = Field(..., description="The message, 1000 characters at most.")
    receiver_type: str = Field(..., description="`both` (indoor monitor and app), `indoor_monitor` or `app`.")
    receivers: list[int] = Field(..., description="Ids of the installer's users (residents).")
    send_email: bool = Field(False, description="Also e-mail a copy to each app user, in their language.")


class MessageOut(Schema):
    id: int
    title: str
    body: str
    receiver_type: str
    receiver_type_display: str
    receiver_names: str
    receiver_count: int
    monitor_count: int
    app_count: int
    send_email: bool
    created_at: datetime.datetime


class MonitorDeliveryOut(Schema):
    mac: str
    location: str
    status: str = Field(..., description="pending, sent, delivered, expired, failed or cancelled")
    delivered_at: datetime.datetime | None


class AppRecipientOut(Schema):
    name: str
    is_host: bool
    read: bool
    read_at: datetime.datetime | None
    emailed: bool


class ReceiverOut(Schema):
    resident_id: int | None
    name: str
    uid: str
    monitors: list[MonitorDeliveryOut]
    app: list[AppRecipientOut]


class MessageDetailOut(MessageOut):
    receivers: list[ReceiverOut]


class ListQuery(Schema):
    q: str = Field("", max_length=100, description="Search text")
    field: Literal["message", "receiver"] = Field("message", description="Search by Message or Receiver")
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class InboxQuery(Schema):
    status: Literal["all", "read", "unread"] = "all"
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class InboxOut(Schema):
    id: int = Field(..., description="The message id")
    title: str
    body: str
    sender: str
    created_at: datetime.datetime
    read: bool
    read_at: datetime.datetime | None


def _summary(message: Message) -> dict:
    return {
        "id": message.pk, "title": message.title, "body": message.body, "receiver_type": message.receiver_type,
        "receiver_type_display": str(message.get_receiver_type_display()),
        "receiver_names": message.receiver_names, "receiver_count": message.receiver_count,
        "monitor_count": message.monitor_count, "app_count": message.app_count, "send_email": message.send_email,
        "created_at": message.created_at,
    }


def _detail(message: Message) -> dict:
    receivers = list(message.receivers.all())
    out = _summary(message)
    out["receivers"] = [
        {
            "resident_id": r.receiver.resident_id, "name": r.receiver.name, "uid": r.receiver.uid,
            "monitors": [{"mac": d.mac, "location": d.location, "status": d.label, "delivered_at": d.delivered_at}
                         for d in r.deliveries],
            "app": [{"name": i.name, "is_host": i.is_host, "read": i.read_at is not None, "read_at": i.read_at,
                     "emailed": i.emailed_at is not None} for i in r.inbox_items],
        }
        for r in selectors.receiver_reports(message, receivers)
    ]
    return out


def _inbox(item: InboxItem) -> dict:
    m = item.message
    return {"id": m.pk, "title": m.title, "body": m.body, "created_at": item.created_at,
            "sender": item.installer.name or item.installer.username, "read": item.read_at is not None,
            "read_at": item.read_at}


@router.get("/messages", auth=installer_auth, response={200: Page[MessageOut], **COMMON_ERRORS},
            summary="List messages")
def list_messages(request, query: Query[ListQuery]):
    qs = selectors.message_list(request.auth, q=query.q, field=query.field).only(
        *selectors.LIST_FIELDS, "monitor_count", "app_count", "send_email")
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                       "items": [_summary(m) for m in items]})


@router.post("/messages", auth=installer_auth, response={201: MessageDetailOut, **COMMON_ERRORS},
             summary="Send a message")
def create_message(request, data: MessageIn):
    message = services.message_create(acting_user=request.auth, **data.dict())
    return Status(201, _detail(message))


@router.get("/messages/{message_id}", auth=installer_auth, response={200: MessageDetailOut, **COMMON_ERRORS},
            summary="A message with its delivery states")
def get_message(request, message_id: int):
    return Status(200, _detail(get_visible_or_404(Message, request.auth, pk=message_id)))


@router.delete("/messages/{message_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete a message")
def delete_message(request, message_id: int):
    message = get_visible_or_404(Message, request.auth, pk=message_id)
    services.message_delete(acting_user=request.auth, message=message)
    return Status(204, None)


@router.get("/me/messages", auth=resident_auth, response={200: Page[InboxOut], **COMMON_ERRORS},
            summary="My messages")
def my_messages(request, query: Query[InboxQuery]):
    qs = selectors.inbox_for(request.auth, status=ReadFilter(query.status))
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_inbox(i) for i in items]})


def _my_item(request, message_id: int) -> InboxItem:
    qs = InboxItem.objects.visible_to(request.auth).select_related("message", "installer")
    return get_object_or_404(qs, message_id=message_id)


@router.get("/me/messages/{message_id}", auth=resident_auth, response={200: InboxOut, **COMMON_ERRORS},
            summary="Read one of my messages (marks it read)")
def my_message(request, message_id: int):
    item = services.inbox_item_mark_read(account=request.auth, item=_my_item(request, message_id))
    return Status(200, _inbox(item))


@router.post("/me/messages/{message_id}/read", auth=resident_auth, response={200: InboxOut, **COMMON_ERRORS},
             summary="Mark one of my messages read")
def mark_my_message_read(request, message_id: int):
    item = services.inbox_item_mark_read(account=request.auth, item=_my_item(request, message_id))
    return Status(200, _inbox(item))
