from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertKind(models.TextChoices):
    DEVICE_OFFLINE = "device_offline", _("Device offline")
    UPGRADE_FAILED = "upgrade_failed", _("Firmware upgrade failed")
    SUBSCRIPTION_EXPIRING = "subscription_expiring", _("Subscription expiring")


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
