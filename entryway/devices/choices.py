from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceType(models.TextChoices):
    DOOR_PHONE = "door_phone", _("Door Phone")
    INDOOR_MONITOR = "indoor_monitor", _("Indoor Monitor")
    ACCESS_CONTROL = "access_control", _("Access Control")
    GUARD_PHONE = "guard_phone", _("Guard Phone")


class ConnectType(models.TextChoices):
    TCP = "tcp", "TCP"
    UDP = "udp", "UDP"
    TLS = "tls", "TLS"


MAX_RELAYS = 4
MAX_DTMF_LENGTH = 4


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportRowResult(models.TextChoices):
    ADDED = "added", _("Added")
    DUPLICATE = "duplicate", _("Duplicate")
    INVALID = "invalid", _("Invalid")
