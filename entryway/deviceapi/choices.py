from django.db import models
from django.utils.translation import gettext_lazy as _


class ActionKind(models.TextChoices):
    REBOOT = "reboot", _("Reboot")
    AUTOP = "autop", _("Once Autop")
    UPGRADE = "upgrade", _("Upgrade firmware")
    MESSAGE = "message", _("Display message")
    REMOTE_CONTROL = "remote_control", _("Remote Control")


class ActionStatus(models.TextChoices):
    # created, not yet fetched by a check-in (an upgrade the MQTT push brought stays Pending until its first result)
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")  # handed over in a check-in answer
    PROCEEDING = "proceeding", _("Proceeding")  # the device reported it is working on it
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    EXPIRED = "expired", _("Expired")  # the device did not take it before its deadline
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = (ActionStatus.PENDING, ActionStatus.SENT, ActionStatus.PROCEEDING)
FINAL_STATUSES = (ActionStatus.SUCCESS, ActionStatus.FAILURE, ActionStatus.EXPIRED, ActionStatus.CANCELLED)
