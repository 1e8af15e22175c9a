from django.db import models
from django.utils.translation import gettext_lazy as _


class SipKind(models.TextChoices):
    FAMILY = "family", _("Family")  # a household's group number: rings every member
    PERSONAL = "personal", _("Personal")  # a person (host or family member): registers from an app
    DEVICE = "device", _("Device")  # an intercom device: registers from the device


# The digit after the prefix tells the range: 0 family numbers, 1 accounts that register.
KIND_DIGIT = {SipKind.FAMILY: "0", SipKind.PERSONAL: "1", SipKind.DEVICE: "1"}
# Personal and device accounts share one sequence, as in the guide (5926100051, 5926100116).
COUNTER_OF = {SipKind.FAMILY: "family", SipKind.PERSONAL: "account", SipKind.DEVICE: "account"}
