"""Price and coupon arithmetic: Decimal, cents, never below zero."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from entryway.billing import pricing
from entryway.billing.choices import OrderType
from entryway.billing.models import PriceList

PRICES = PriceList(currency="USD", activation_fee=Decimal("2.00"), renewal_fee=Decimal("1.10"),
                   additional_app_fee=Decimal("0.99"), premium_plan_fee=Decimal("0.33"))


def test_unit_prices(settings):
    settings.BILLING_ACTIVATION_MONTHS = 12
    assert pricing.unit_price(PRICES, OrderType.ACTIVATION) == Decimal("2.00")
    assert pricing.unit_price(PRICES, OrderType.ACTIVATION, premium=True) == Decimal("5.96")
    assert pricing.unit_price(PRICES, OrderType.SUBSCRIPTION, months=3) == Decimal("3.30")
    assert pricing.unit_price(PRICES, OrderType.SUBSCRIPTION, months=3, premium=True) == Decimal("4.29")
    assert pricing.unit_price(PRICES, OrderType.ADDITIONAL_APP, apps=3) == Decimal("2.97")


def test_decimal_sums_do_not_drift():
    total = sum((pricing.unit_price(PRICES, OrderType.SUBSCRIPTION, months=1) for _ in range(3000)), Decimal("0"))
    assert total == Decimal("3300.00")


@pytest.mark.parametrize("total, balance, coupon_pay, should_pay", [
    ("8.00", None, "0.00", "8.00"),
    ("8.00", "0", "0.00", "8.00"),
    ("8.00", "3.25", "3.25", "4.75"),
    ("8.00", "8.00", "8.00", "0.00"),
    ("8.00", "9928.00", "8.00", "0.00"),
    ("0.00", "5.00", "0.00", "0.00"),
    ("8.00", "-1.00", "0.00", "8.00"),
])
def test_coupon_split(total, balance, coupon_pay, should_pay):
    split = pricing.split_with_coupon(Decimal(total), Decimal(balance) if balance is not None else None)
    assert split.coupon_pay == Decimal(coupon_pay)
    assert split.should_pay == Decimal(should_pay)
    assert split.coupon_pay + split.should_pay == max(Decimal(total), Decimal("0"))


def test_add_months_keeps_the_day_or_the_month_end():
    utc = datetime.timezone.utc
    assert pricing.add_months(datetime.datetime(2024, 1, 31, 10, tzinfo=utc), 1) == \
        datetime.datetime(2024, 2, 29, 10, tzinfo=utc)
    assert pricing.add_months(datetime.datetime(2024, 11, 15, tzinfo=utc), 3) == \
        datetime.datetime(2025, 2, 15, tzinfo=utc)
    assert pricing.add_months(datetime.datetime(2024, 5, 1, tzinfo=utc), 24) == datetime.datetime(2026, 5, 1, tzinfo=utc)


def test_minor_units():
    assert pricing.minor_units(Decimal("12.34"), "USD") == 1234
    assert pricing.minor_units(Decimal("500"), "JPY") == 500
    assert pricing.money("0.005") == Decimal("0.01")
