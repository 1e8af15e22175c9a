"""Orders and coupons in the user API."""
from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from entryway.api.auth import installer_auth
from entryway.api.schemas import COMMON_ERRORS, Error, Page, paginate_queryset
from entryway.billing import selectors, services
from entryway.billing.choices import OrderStatus
from entryway.billing.models import Coupon, Order
from entryway.billing.providers import ProviderError, get_provider
from entryway.core.access import get_visible_or_404

router = Router(tags=["Payments"])

OrderTypeIn = Literal["activation", "subscription", "additional_app"]
StatusIn = Literal["processing", "succeed", "failed", "timeout", "cancel", "system_processing"]


class BillingInfo(Schema):
    company: str = Field("", max_length=128, description="Company/Family")
    attn: str = Field("", max_length=128, description="ATTN")
    address: str = Field("", max_length=255)
    tel: str = Field("", max_length=32, description="TEL")
    fax: str = Field("", max_length=32)
    email: str = Field("", max_length=254)


class OrderIn(Schema):
    order_type: OrderTypeIn = Field(..., description="activation (Active), subscription (Renew) or additional_app")
    resident_ids: list[int] = Field(..., min_length=1, max_length=3000,
                                    description="The users to pay for, 3,000 at most.")
    months: int = Field(0, ge=0, le=120, description="Months of renewal (subscription orders).")
    apps_per_user: int = Field(0, ge=0, le=100, description="Additional apps per user (additional_app orders).")
    coupon_id: int | None = Field(None, ge=1, le=2**62, description="One of your coupons, or null for none.")
    payment_method: Literal["test", "stripe", "bank_transfer"] = "test"
    billing: BillingInfo = Field(default_factory=BillingInfo)
    expected_total: Decimal | None = Field(
        None, ge=0, le=Decimal("10000000000"), max_digits=14, decimal_places=2,
        description="The total you expect; refused when the server's total differs.")


class OrderItemOut(Schema):
    resident_id: int | None
    name: str
    email: str
    price: Decimal


class OrderOut(Schema):
    id: int
    number: str = Field(..., description="Order Number")
    order_type: OrderTypeIn
    status: StatusIn
    households: int = Field(..., description="The number of apartments")
    months: int
    apps_per_user: int
    currency: str
    total_price: Decimal
    coupon_amount: Decimal = Field(..., description="Coupon Pay (the discount)")
    final_price: Decimal = Field(..., description="Should Pay")
    payment_method: str
    provider_reference: str
    payer: str
    created_at: datetime.datetime
    expires_at: datetime.datetime = Field(..., description="When the unpaid order times out")
    paid_at: datetime.datetime | None
    invoice_number: str


class OrderCreatedOut(OrderOut):
    checkout_url: str = Field("", description="Where the payer completes the payment (empty once paid).")


class OrderDetailOut(OrderOut):
    items: list[OrderItemOut]


class OrderQuery(Schema):
    type: OrderTypeIn | None = Field(None, description="Type filter (all when absent)")
    status: StatusIn | None = Field(None, description="Status filter (all when absent)")
    number: str = Field("", max_length=20, pattern=r"^[0-9]*$", description="Order Number (part of it)")
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class CouponOut(Schema):
    id: int
    code: str
    fee_type: str
    currency: str
    amount: Decimal
    balance: Decimal
    valid_from: datetime.datetime
    valid_until: datetime.datetime


class ExchangeIn(Schema):
    code: str = Field(..., min_length=1, max_length=32)


def _order(order: Order) -> dict:
    return {
        "id": order.pk, "number": order.number, "order_type": order.order_type, "status": order.status,
        "households": order.households, "months": order.months, "apps_per_user": order.apps_per_user,
        "currency": order.currency, "total_price": order.total_price, "coupon_amount": order.coupon_amount,
        "final_price": order.final_price, "payment_method": order.payment_method,
        "provider_reference": order.provider_reference, "payer": order.payer_name, "created_at": order.created_at,
        "expires_at": order.expires_at, "paid_at": order.paid_at, "invoice_number": order.invoice_number,
    }


def _detail(order: Order) -> dict:
    out = _order(order)
    out["items"] = [{"resident_id": i.resident_id, "name": i.name, "email": i.email, "price": i.price}
                    for i in order.items.all()]
    return out


@router.get("/orders", auth=installer_auth, response={200: Page[OrderOut], **COMMON_ERRORS}, summary="List orders")
def list_orders(request, query: Query[OrderQuery]):
    qs = selectors.order_list(request.auth, order_type=query.type or "", status=query.status or "",
                              number=query.number).defer(None)
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_order(o) for o in items]})


@router.post("/orders", auth=installer_auth, response={201: OrderCreatedOut, 502: Error, **COMMON_ERRORS},
             summary="Create an order and start paying it")
def create_order(request, data: OrderIn):
    from django.db import transaction

    with transaction.atomic():
        order = services.order_create(acting_user=request.auth, order_type=data.order_type,
                                      resident_ids=data.resident_ids, months=data.months,
                                      apps_per_user=data.apps_per_user)
        order = services.order_checkout(acting_user=request.auth, order=order, payment_method=data.payment_method,
                                        coupon_id=data.coupon_id, billing=data.billing.dict(),
                                        expected_total=data.expected_total)
    checkout_url = ""
    if order.status == OrderStatus.PROCESSING:
        try:
            checkout = get_provider(order.payment_method).begin(order, base_url=request.build_absolute_uri("/"))
        except ProviderError as exc:
            return Status(502, {"detail": str(exc)})
        checkout_url = request.build_absolute_uri(checkout.redirect_url)
        order.refresh_from_db()
    return Status(201, {**_order(order), "checkout_url": checkout_url})


@router.get("/orders/{order_id}", auth=installer_auth, response={200: OrderDetailOut, **COMMON_ERRORS},
            summary="An order with its users")
def get_order(request, order_id: int):
    return Status(200, _detail(get_visible_or_404(Order, request.auth, pk=order_id)))


@router.delete("/orders/{order_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete an order from the Payments list (it is kept, with its invoice, for accounting)")
def delete_order(request, order_id: int):
    order = get_visible_or_404(Order.objects.listed(), request.auth, pk=order_id)
    services.order_hide(acting_user=request.auth, order=order)
    return Status(204, None)


@router.get("/orders/{order_id}/invoice.pdf", auth=installer_auth,
            response={200: bytes, 409: Error, 503: Error, **COMMON_ERRORS}, summary="The invoice of a paid order",
            openapi_extra={"responses": {200: {"description": "PDF", "content": {"application/pdf": {}}}}})
def order_invoice(request, order_id: int):
    order = get_visible_or_404(Order, request.auth, pk=order_id)
    if order.status != OrderStatus.SUCCEED:
        return Status(409, {"detail": f"Order {order.number} is {order.get_status_display()}: "
                                      "only a paid order has an invoice."})
    # fpdf2 and its fonts are loaded by the first invoice, not by every process.
    from entryway.billing.invoice import InvoiceFontMissing, render_invoice

    try:
        pdf = render_invoice(order)
    except InvoiceFontMissing as exc:
        return Status(503, {"detail": str(exc)})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{order.number}.pdf"'
    return response


@router.get("/coupons", auth=installer_auth, response={200: list[CouponOut], **COMMON_ERRORS},
            summary="My coupons")
def list_coupons(request):
    return Status(200, list(Coupon.objects.visible_to(request.auth).order_by("valid_until", "id")[:500]))


@router.post("/coupons", auth=installer_auth, response={201: CouponOut, **COMMON_ERRORS},
             summary="Exchange Coupon: add a coupon code to my account")
def exchange_coupon(request, data: ExchangeIn):
    return Status(201, services.coupon_exchange(acting_user=request.auth, code=data.code))

