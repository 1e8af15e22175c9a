from django.db import models
from django.utils.translation import gettext_lazy as _


class CallType(models.TextChoices):
    IP = "ip", _("All my devices were installed in the same place (villa or house)")
    SIP = "sip", _("Some of my devices were installed in a different place (villa or house)")


class ActiveStatus(models.TextChoices):
    INACTIVATED = "inactivated", _("Inactivated")
    NORMAL = "normal", _("Normal")
    EXPIRED = "expired", _("Expired")


class LandlineStatus(models.TextChoices):
    OFF = "off", _("Off")
    INACTIVATED = "inactivated", _("Inactivated")
    NORMAL = "normal", _("Normal")
    EXPIRED = "expired", _("Expired")
