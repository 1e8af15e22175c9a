"""Messages an installer sends to users (residents): to their indoor monitors and to their apps."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantModel, TenantQuerySet
from entryway.messaging.choices import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, DeliveryStatus, ReceiverType


class MessageQuerySet(TenantQuerySet):
    def search(self, q: str, field: str = "message"):
        """The guide's search: by Message (title or text) or by Receiver (name, UID or e-mail)."""
        q = (q or "").replace("\x00", "").strip()
        if not q:
            return self
        if field == "receiver":
            receivers = MessageReceiver.objects.filter(message_id=models.OuterRef("pk")).filter(
                models.Q(name__icontains=q) | models.Q(uid=q) | models.Q(email__icontains=q)
            )
            return self.filter(models.Exists(receivers))
        return self.filter(models.Q(title__icontains=q) | models.Q(body__icontains=q))


class Message(TenantModel):
    title = models.CharField(_("Message Title"), max_length=TITLE_MAX_LENGTH)
    body = models.TextField(_("Message"), max_length=BODY_MAX_LENGTH)
    receiver_type = models.CharField(_("Receiver Type"), max_length=20, choices=ReceiverType.choices)
    send_email = models.BooleanField(_("Also send by e-mail"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept with the message so that the list needs no per-row queries.
    receiver_count = models.PositiveIntegerField(default=0)
    receiver_names = models.CharField(_("Receiver"), max_length=255, blank=True)
    monitor_count = models.PositiveIntegerField(default=0)
    app_count = models.PositiveIntegerField(default=0)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["installer", "-created_at", "-id"])]

    def __str__(self) -> str:
        return self.title

    @property
    def reaches_monitors(self) -> bool:
        return ReceiverType.reaches_monitors(self.receiver_type)

    @property
    def reaches_app(self) -> bool:
        return ReceiverType.reaches_app(self.receiver_type)


class MessageReceiver(models.Model):
    """One user (household) a message was sent to. Name and UID are kept if the user is deleted later."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="receivers")
    resident = models.ForeignKey("residents.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    name = models.CharField(_("Name"), max_length=64)
    uid = models.CharField(_("UID"), max_length=20, db_index=True)
    email = models.EmailField(_("Email"), max_length=254, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["message", "resident"], name="message_receiver_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.uid})"


class MonitorDelivery(models.Model):
    """The message on one indoor monitor of one receiver, tracked through its device action."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    receiver = models.ForeignKey(MessageReceiver, on_delete=models.CASCADE, related_name="deliveries")
    device = models.ForeignKey("devices.IntercomDevice", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    mac = models.CharField(_("MAC"), max_length=12)
    location = models.CharField(_("Location"), max_length=64, blank=True)
    action = models.ForeignKey("deviceapi.DeviceAction", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    status = models.CharField(_("Status"), max_length=12, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    delivered_at = models.DateTimeField(_("Delivered Time"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["receiver_id", "location", "id"]
        indexes = [models.Index(fields=["message", "status"])]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.mac} ({self.status})"


class InboxItemQuerySet(TenantQuerySet):
    def visible_to(self, user):
        """A resident login sees its own inbox only; installers, distributors and admins as usual."""
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) == "resident":
            if not user.is_active:
                return self.none()
            return self.filter(account_id=user.pk)
        return super().visible_to(user)

    def unread(self):
        return self.filter(read_at__isnull=True)

    def read(self):
        return self.filter(read_at__isnull=False)


class InboxItem(TenantModel):
    """The message in one app login's inbox: the host's or a family member's."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="inbox_items")
    receiver = models.ForeignKey(MessageReceiver, on_delete=models.CASCADE, related_name="inbox_items")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("Name"), max_length=64)
    is_host = models.BooleanField(default=False)
    read_at = models.DateTimeField(_("Read Time"), null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = InboxItemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message", "account"], name="inbox_item_unique")]
        indexes = [models.Index(fields=["account", "-created_at", "-id"])]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.name}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
