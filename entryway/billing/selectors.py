"""Billing reads that depend on who asks."""
from __future__ import annotations

from django.db.models import Q

from entryway.billing.choices import OrderStatus, OrderType
from entryway.billing.models import Coupon, Order
from entryway.billing.services import eligible_residents
from entryway.residents.models import Resident

ORDER_LIST_FIELDS = ("id", "installer_id", "number", "order_type", "households", "total_price", "currency",
                     "status", "created_at", "final_price", "payer_id")


def order_list(user, *, order_type: str = "", status: str = "", number: str = ""):
    qs = Order.objects.visible_to(user).listed()
    if order_type in OrderType.values:
        qs = qs.filter(order_type=order_type)
    if status in OrderStatus.values:
        qs = qs.filter(status=status)
    number = (number or "").strip()
    if number:
        qs = qs.filter(number__contains=number[:20])
    return qs.only(*ORDER_LIST_FIELDS)


def purchase_candidates(user, order_type: str, *, q: str = "", limit: int = 3000):
    """The users an installer can select for this purchase type (the first ``limit`` matching)."""
    qs = eligible_residents(Resident.objects.visible_to(user), order_type).search(q)
    return qs.order_by("name", "id").only("id", "name", "email", "expires_at", "activated_at", "premium_plan",
                                          "family_member_limit", "installer_id")[:limit]


def coupon_list(user, *, q: str = ""):
    qs = Coupon.objects.visible_to(user).select_related("installer", "issued_by")
    q = (q or "").strip()[:32]
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(installer__username__icontains=q) | Q(installer__name__icontains=q))
    return qs.order_by("-created_at", "-id")


def open_orders(user):
    return Order.objects.visible_to(user).listed().filter(status__in=[OrderStatus.PROCESSING,
                                                                      OrderStatus.SYSTEM_PROCESSING])
