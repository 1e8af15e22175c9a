from django.db import models
from django.utils.translation import gettext_lazy as _


class SessionState(models.TextChoices):
    """What the portal shows for a session (derived from its times, never stored)."""

    WAITING = "waiting", _("Waiting for device")
    NOT_CONNECTED = "not_connected", _("Device did not connect")
    CONNECTED = "connected", _("Connected")
    CLOSED = "closed", _("Closed")
    EXPIRED = "expired", _("Expired")


class CloseReason(models.TextChoices):
    INSTALLER = "installer", _("Closed from the portal")
    EXPIRED = "expired", _("Time limit reached")
    DEVICE = "device", _("Ended by the device")
    DEVICE_FAILED = "device_failed", _("The device could not open the tunnel")


class RequestState(models.TextChoices):
    QUEUED = "queued", _("Queued")  # written by the browser side, not yet taken by the device
    TAKEN = "taken", _("Taken")  # handed to the device in a /next answer
    ANSWERED = "answered", _("Answered")  # the device's reply is stored
