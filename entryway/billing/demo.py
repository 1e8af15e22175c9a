"""Demo data for billing: platform prices, a coupon in the demo installer's account, and one paid order."""
from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from entryway.billing import services
from entryway.billing.models import Coupon


def seed(ctx) -> None:
    admin, installer = ctx["admin"], ctx["installer"]
    services.price_list_set(acting_user=admin, distributor=None, currency="USD", activation_fee="2.00",
                            renewal_fee="1.00", additional_app_fee="1.00", premium_plan_fee="0.50")
    now = timezone.now()
    if not Coupon.objects.filter(installer=installer).exists():
        services.coupon_create(acting_user=admin, amount=Decimal("100.00"), installer=installer,
                               valid_from=now - datetime.timedelta(days=1),
                               valid_until=now + datetime.timedelta(days=365))
    services.coupon_create(acting_user=admin, amount=Decimal("20.00"), valid_from=now,
                           valid_until=now + datetime.timedelta(days=90))
    from entryway.residents.models import Resident

    # read the residents again: other apps' demo data may have activated some of them
    waiting = list(Resident.objects.filter(installer=installer, activated_at__isnull=True).order_by("id")[:2])
    if waiting:
        order = services.order_create(acting_user=installer, order_type="activation",
                                      resident_ids=[r.pk for r in waiting])
        order = services.order_checkout(acting_user=installer, order=order, payment_method="test",
                                        billing={"company": "Demo Intercoms", "attn": installer.display_name})
        services.order_mark_paid(order_id=order.pk, provider="test", amount=order.final_price,
                                 currency=order.currency, reference="test_demo")
