"""Billing: charge-mode settings, price lists, coupons, orders and their payment events."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from entryway.billing.choices import (
    OPEN_STATUSES, ChargeMode, CouponFee, Currency, OrderStatus, OrderType,
)
from entryway.core.models import TenantModel, TenantQuerySet

MONEY = {"max_digits": 12, "decimal_places": 2}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


class BillingSetting(TenantModel):
    """The installer's Setting module, and the billing information remembered from the last payment."""

    charge_mode = models.CharField(_("Charge Mode"), max_length=20, choices=ChargeMode.choices,
                                   default=ChargeMode.INSTALLER)
    send_expiration_email = models.BooleanField(_("Send Expiration Email To End User"), default=True)
    send_renew_email = models.BooleanField(_("Send Renew Email To End User"), default=True)
    # Billing Information, remembered for the next payment.
    company = models.CharField(_("Company/Family"), max_length=128, blank=True)
    attn = models.CharField(_("ATTN"), max_length=128, blank=True)
    address = models.CharField(_("Address"), max_length=255, blank=True)
    tel = models.CharField(_("TEL"), max_length=32, blank=True)
    fax = models.CharField(_("Fax"), max_length=32, blank=True)
    email = models.EmailField(_("Email"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["installer"], name="billing_setting_one_per_installer")]

    def __str__(self) -> str:
        return f"Setting of {self.installer_id}"


class PriceList(models.Model):
    """Fees charged to a distributor's installers; the row without a distributor is the platform default."""

    distributor = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="price_list",
        limit_choices_to={"role": "distributor"},
    )
    currency = models.CharField(_("Currency"), max_length=3, choices=Currency.choices, default=Currency.USD)
    activation_fee = models.DecimalField(_("Activation Fee"), validators=NON_NEGATIVE, **MONEY)
    renewal_fee = models.DecimalField(_("Renewal Fee (per month)"), validators=NON_NEGATIVE, **MONEY)
    additional_app_fee = models.DecimalField(_("Additional App Fee"), validators=NON_NEGATIVE, **MONEY)
    premium_plan_fee = models.DecimalField(_("Premium Plan Fee (per month)"), validators=NON_NEGATIVE, **MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["distributor"], condition=models.Q(distributor__isnull=True),
                                    name="billing_one_platform_price_list"),
        ]

    def __str__(self) -> str:
        return f"Prices of {self.distributor or 'the platform'}"

    @property
    def is_default(self) -> bool:
        return self.distributor_id is None


class CouponQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        role = getattr(user, "role", None)
        if role == "admin":
            return self.all()
        if role == "distributor":
            return self.filter(models.Q(issued_by_id=user.pk) | models.Q(installer__parent_id=user.pk))
        if role == "installer":
            return self.filter(installer_id=user.pk)
        return self.none()

    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(valid_from__lte=now, valid_until__gt=now, balance__gt=0)


class Coupon(models.Model):
    """A prepaid balance an installer spends on fees. Issued by the platform admin or a distributor."""

    code = models.CharField(_("Coupon Code"), max_length=32, unique=True)
    fee_type = models.CharField(_("Fee"), max_length=20, choices=CouponFee.choices, default=CouponFee.ALL)
    currency = models.CharField(_("Currency"), max_length=3, choices=Currency.choices, default=Currency.USD)
    amount = models.DecimalField(_("Amount"), validators=NON_NEGATIVE, **MONEY)
    balance = models.DecimalField(_("Balance"), validators=NON_NEGATIVE, **MONEY)
    valid_from = models.DateTimeField(_("Valid From"))
    valid_until = models.DateTimeField(_("Valid Until"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The installer whose account holds it (set when issued to them or when they exchange the code).
    installer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="coupons", limit_choices_to={"role": "installer"})
    exchanged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("Created Time"), auto_now_add=True)

    objects = CouponQuerySet.as_manager()

    class Meta:
        ordering = ["valid_until", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="billing_coupon_balance_not_negative"),
            models.CheckConstraint(condition=models.Q(balance__lte=models.F("amount")),
                                   name="billing_coupon_balance_within_amount"),
        ]

    def __str__(self) -> str:
        return self.code

    def is_valid_at(self, when) -> bool:
        return self.valid_from <= when < self.valid_until

    def covers(self, order_type: str) -> bool:
        return self.fee_type == CouponFee.ALL or self.fee_type == order_type


class OrderQuerySet(TenantQuerySet):
    def visible_to(self, user):
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) == "resident":
            return self.filter(payer_id=user.pk)
        return super().visible_to(user)

    def listed(self):
        """What the Payments list shows: everything except orders the installer deleted."""
        return self.filter(hidden_at__isnull=True)


class Order(TenantModel):
    number = models.CharField(_("Order Number"), max_length=20, unique=True)
    order_type = models.CharField(_("Type"), max_length=20, choices=OrderType.choices)
    status = models.CharField(_("Status"), max_length=20, choices=OrderStatus.choices,
                              default=OrderStatus.PROCESSING, db_index=True)
    households = models.PositiveIntegerField(_("The number of apartments"))
    months = models.PositiveSmallIntegerField(_("Months"), default=0)
    apps_per_user = models.PositiveSmallIntegerField(_("Additional apps per user"), default=0)
    currency = models.CharField(_("Currency"), max_length=3, choices=Currency.choices, default=Currency.USD)
    total_price = models.DecimalField(_("Total Price"), **MONEY)
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    coupon_amount = models.DecimalField(_("Coupon Pay"), default=Decimal("0"), **MONEY)
    final_price = models.DecimalField(_("Should Pay"), **MONEY)
    payment_method = models.CharField(_("Payment method"), max_length=20, blank=True)
    provider_reference = models.CharField(_("Provider reference"), max_length=255, blank=True, db_index=True)
    checkout_started_at = models.DateTimeField(null=True, blank=True)
    # Who pays: the installer, or the resident (Pay By End User).
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    payer_name = models.CharField(_("Payer"), max_length=128)
    # Billing Information as it was when paid.
    company = models.CharField(_("Company/Family"), max_length=128, blank=True)
    attn = models.CharField(_("ATTN"), max_length=128, blank=True)
    address = models.CharField(_("Address"), max_length=255, blank=True)
    tel = models.CharField(_("TEL"), max_length=32, blank=True)
    fax = models.CharField(_("Fax"), max_length=32, blank=True)
    email = models.EmailField(_("Email"), blank=True)
    expires_at = models.DateTimeField(_("Time out"))
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    emails_sent_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    invoice_number = models.CharField(_("Invoice Number"), max_length=32, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["installer", "-created_at", "-id"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_paid(self) -> bool:
        return self.status == OrderStatus.SUCCEED

    @property
    def discount_percent(self) -> int:
        if not self.total_price:
            return 0
        return int((self.coupon_amount * 100 / self.total_price).quantize(Decimal("1")))

    @property
    def transaction_type_label(self):
        return {
            OrderType.ACTIVATION: _("Activation Fee"),
            OrderType.SUBSCRIPTION: _("Renewal Fee"),
            OrderType.ADDITIONAL_APP: _("Additional App Fee"),
        }[self.order_type]


class OrderItem(models.Model):
    """One user (household) an order pays for, with the price charged for them."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    resident = models.ForeignKey("residents.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    name = models.CharField(_("Name"), max_length=64)
    email = models.CharField(_("Email"), max_length=254, blank=True)
    price = models.DecimalField(_("Price"), **MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "resident"], name="billing_order_item_once")]

    def __str__(self) -> str:
        return self.name


class PaymentEvent(models.Model):
    """A provider notification that was acted upon; its id makes a replay do nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=80)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    outcome = models.CharField(max_length=80, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="billing_event_once")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"


class ExpirationReminder(models.Model):
    """One reminder per user and expiry date, so the periodic task never mails twice."""

    resident = models.ForeignKey("residents.Resident", on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resident", "expires_at"], name="billing_reminder_once")]
