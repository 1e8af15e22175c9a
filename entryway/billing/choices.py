from django.db import models
from django.utils.translation import gettext_lazy as _


class ChargeMode(models.TextChoices):
    END_USER = "end_user", _("Pay By End User")
    INSTALLER = "installer", _("Pay By Installer")


class OrderType(models.TextChoices):
    ACTIVATION = "activation", _("Activation")
    SUBSCRIPTION = "subscription", _("Subscription")
    ADDITIONAL_APP = "additional_app", _("Additional App")


class OrderStatus(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    SUCCEED = "succeed", _("Succeed")
    FAILED = "failed", _("Failed")
    TIMEOUT = "timeout", _("Time out")
    CANCEL = "cancel", _("Cancel")
    SYSTEM_PROCESSING = "system_processing", _("System Processing")


# States an order never leaves.
FINAL_STATUSES = {OrderStatus.SUCCEED, OrderStatus.FAILED, OrderStatus.TIMEOUT, OrderStatus.CANCEL}
OPEN_STATUSES = {OrderStatus.PROCESSING, OrderStatus.SYSTEM_PROCESSING}


class CouponFee(models.TextChoices):
    ALL = "all", _("All Fee")
    ACTIVATION = "activation", _("Activation Fee")
    SUBSCRIPTION = "subscription", _("Renewal Fee")
    ADDITIONAL_APP = "additional_app", _("Additional App Fee")


class Currency(models.TextChoices):
    USD = "USD", "USD"
    EUR = "EUR", "EUR"
    GBP = "GBP", "GBP"
    CNY = "CNY", "CNY"
    JPY = "JPY", "JPY"
    KRW = "KRW", "KRW"
    SGD = "SGD", "SGD"
    AUD = "AUD", "AUD"
    CAD = "CAD", "CAD"
    CHF = "CHF", "CHF"
    DKK = "DKK", "DKK"
    PLN = "PLN", "PLN"
    TRY = "TRY", "TRY"
    RUB = "RUB", "RUB"
    VND = "VND", "VND"
    BAM = "BAM", "BAM"


# Currencies without minor units (Stripe amounts are whole units for these).
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND"}

TYPE_FILTERS = [("", _("All")), *OrderType.choices]
STATUS_FILTERS = [("", _("All")), *OrderStatus.choices]
