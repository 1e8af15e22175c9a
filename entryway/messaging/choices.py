from django.db import models
from django.utils.translation import gettext_lazy as _


class ReceiverType(models.TextChoices):
    BOTH = "both", _("Both indoor monitor and app")
    INDOOR_MONITOR = "indoor_monitor", _("Indoor monitor only")
    APP = "app", _("App only")

    @classmethod
    def reaches_monitors(cls, value: str) -> bool:
        return value in (cls.BOTH, cls.INDOOR_MONITOR)

    @classmethod
    def reaches_app(cls, value: str) -> bool:
        return value in (cls.BOTH, cls.APP)


class DeliveryStatus(models.TextChoices):
    """Where a message stands on one indoor monitor."""

    PENDING = "pending", _("Pending")  # waiting for the monitor's next check-in (or MQTT push)
    DELIVERED = "delivered", _("Delivered")  # the monitor reported it displayed the message
    EXPIRED = "expired", _("Expired")  # the monitor did not come back before the deadline
    FAILED = "failed", _("Failed")  # the monitor reported it could not display it
    CANCELLED = "cancelled", _("Cancelled")


class ReadFilter(models.TextChoices):
    ALL = "all", _("All")
    UNREAD = "unread", _("Unread")
    READ = "read", _("Read")


TITLE_MAX_LENGTH = 64
BODY_MAX_LENGTH = 1000
