"""Support tickets from an installer to its distributor."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from entryway.core.models import TenantModel
from entryway.portals.choices import TicketStatus

SUBJECT_MAX = 120
BODY_MAX = 5000


class Ticket(TenantModel):
    """A support request. The installer owns it; its distributor answers (TenantQuerySet scopes both)."""

    subject = models.CharField(_("Subject"), max_length=SUBJECT_MAX)
    status = models.CharField(_("Status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN,
                              db_index=True)
    last_message_at = models.DateTimeField(_("Last reply"), null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["installer", "-updated_at"])]

    def __str__(self) -> str:
        return self.subject


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_role = models.CharField(max_length=20)
    body = models.TextField(_("Message"), max_length=BODY_MAX)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.body[:40]}"
