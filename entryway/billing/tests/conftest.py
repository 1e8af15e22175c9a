"""Billing fixtures: users to pay for, coupons, an order ready to pay."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone


@pytest.fixture
def residents(make_resident, installer):
    return [make_resident(installer, name=f"User {i}", email=f"user{i}@example.com") for i in range(3)]


@pytest.fixture
def make_coupon(admin_account):
    from entryway.billing.services import coupon_create

    def make(installer=None, amount="10.00", days=30, acting_user=None, **extra):
        now = timezone.now()
        extra.setdefault("valid_from", now - datetime.timedelta(days=1))
        extra.setdefault("valid_until", now + datetime.timedelta(days=days))
        return coupon_create(acting_user=acting_user or admin_account, amount=Decimal(amount), installer=installer,
                             **extra)

    return make


@pytest.fixture
def make_order(installer):
    from entryway.billing.services import order_create

    def make(residents, order_type="activation", acting_user=None, **extra):
        return order_create(acting_user=acting_user or installer, order_type=order_type,
                            resident_ids=[r.pk for r in residents], **extra)

    return make


@pytest.fixture
def stripe_keys(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_entryway"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_entryway_test_secret"
    return settings
