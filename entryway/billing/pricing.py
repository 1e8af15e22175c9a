"""Price arithmetic. Everything is Decimal, rounded to cents half-up, computed on the server only."""
from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from entryway.billing.choices import OrderType
from entryway.billing.models import PriceList

CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def default_price_list() -> PriceList:
    """The platform's default price list (an unsaved one from the settings when none was set)."""
    found = PriceList.objects.filter(distributor__isnull=True).first()
    if found is not None:
        return found
    return PriceList(
        currency=settings.BILLING_CURRENCY,
        activation_fee=money(settings.BILLING_DEFAULT_ACTIVATION_FEE),
        renewal_fee=money(settings.BILLING_DEFAULT_RENEWAL_FEE),
        additional_app_fee=money(settings.BILLING_DEFAULT_ADDITIONAL_APP_FEE),
        premium_plan_fee=money(settings.BILLING_DEFAULT_PREMIUM_PLAN_FEE),
    )


def price_list_for(installer) -> PriceList:
    """The installer's distributor's prices, or the platform default."""
    if installer.parent_id:
        found = PriceList.objects.filter(distributor_id=installer.parent_id).first()
        if found is not None:
            return found
    return default_price_list()


def unit_price(prices: PriceList, order_type: str, *, months: int = 0, apps: int = 0,
               premium: bool = False) -> Decimal:
    """What one user costs in an order."""
    if order_type == OrderType.ACTIVATION:
        price = prices.activation_fee
        if premium:
            price += prices.premium_plan_fee * settings.BILLING_ACTIVATION_MONTHS
    elif order_type == OrderType.SUBSCRIPTION:
        per_month = prices.renewal_fee + (prices.premium_plan_fee if premium else Decimal("0"))
        price = per_month * months
    elif order_type == OrderType.ADDITIONAL_APP:
        price = prices.additional_app_fee * apps
    else:
        raise ValueError(order_type)
    return money(price)


@dataclass(frozen=True)
class CouponSplit:
    coupon_pay: Decimal
    should_pay: Decimal


def split_with_coupon(total: Decimal, balance: Decimal | None) -> CouponSplit:
    """A coupon pays at most its balance and at most the total; nothing goes below zero."""
    total = money(total)
    if balance is None or balance <= 0 or total <= 0:
        return CouponSplit(Decimal("0.00"), max(total, Decimal("0.00")))
    coupon_pay = min(money(balance), total)
    return CouponSplit(coupon_pay, total - coupon_pay)


def add_months(moment: datetime.datetime, months: int) -> datetime.datetime:
    """The same day and time ``months`` later (the last day of the month when it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def minor_units(amount: Decimal, currency: str) -> int:
    """An amount in the currency's smallest unit, as payment providers count it."""
    from entryway.billing.choices import ZERO_DECIMAL_CURRENCIES

    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
