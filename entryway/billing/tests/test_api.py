"""Orders and coupons API: filters, create (priced on the server), detail, invoice, delete, exchange."""
from __future__ import annotations

import pytest

from entryway.billing import services
from entryway.billing.choices import OrderStatus
from entryway.billing.models import Order

pytestmark = pytest.mark.django_db


def test_anonymous_and_wrong_role(client, resident):
    assert client.get("/api/v1/orders").status_code == 401
    assert client.get("/api/v1/coupons").status_code == 401
    client.force_login(resident.account)
    assert client.get("/api/v1/orders").status_code == 401


def test_create_pay_and_read(api, installer, residents):
    response = api.post("/api/v1/orders", {"order_type": "activation", "resident_ids": [r.pk for r in residents],
                                           "payment_method": "test", "expected_total": "6.00",
                                           "billing": {"company": "Acme", "email": "pay@example.com"}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "processing" and body["total_price"] == "6.00" and body["households"] == 3
    assert body["checkout_url"].endswith(f"/billing/test-checkout/{body['number']}/")
    order = Order.objects.get()
    services.order_mark_paid(order_id=order.pk, provider="test", amount=order.final_price, currency="USD")
    detail = api.get(f"/api/v1/orders/{order.pk}").json()
    assert detail["status"] == "succeed" and detail["invoice_number"] and len(detail["items"]) == 3
    pdf = api.get(f"/api/v1/orders/{order.pk}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = api.get("/api/v1/orders", {"status": "succeed", "type": "activation"}).json()
    assert listed["count"] == 1 and listed["items"][0]["number"] == order.number
    assert api.get("/api/v1/orders", {"status": "failed"}).json()["count"] == 0
    assert api.delete(f"/api/v1/orders/{order.pk}").status_code == 204
    assert api.get("/api/v1/orders").json()["count"] == 0
    assert api.get(f"/api/v1/orders/{order.pk}/invoice.pdf").status_code == 200


def test_bad_input_is_refused(api, installer, other_installer, make_resident, residents):
    foreign = make_resident(other_installer, name="Foreign")
    cases = [
        ({"order_type": "activation", "resident_ids": [foreign.pk]}, "not among your users"),
        ({"order_type": "activation", "resident_ids": [residents[0].pk], "expected_total": "0.01"},
         "price is set by the platform"),
        ({"order_type": "activation", "resident_ids": list(range(1, 3002))}, ""),
        ({"order_type": "free", "resident_ids": [residents[0].pk]}, ""),
        ({"order_type": "activation", "resident_ids": []}, ""),
        ({"order_type": "subscription", "resident_ids": [residents[0].pk], "months": 1}, "not activated"),
        ({"order_type": "activation", "resident_ids": [residents[0].pk], "coupon_id": 99}, "your coupons"),
    ]
    for data, reason in cases:
        response = api.post("/api/v1/orders", data)
        assert response.status_code == 422, (data, response.content)
        assert reason in response.content.decode()
    assert not Order.objects.exists()


def test_other_installers_order_is_404(api, other_installer, make_resident):
    theirs = services.order_create(acting_user=other_installer, order_type="activation",
                                   resident_ids=[make_resident(other_installer, name="X").pk])
    assert api.get(f"/api/v1/orders/{theirs.pk}").status_code == 404
    assert api.get(f"/api/v1/orders/{theirs.pk}/invoice.pdf").status_code == 404
    assert api.delete(f"/api/v1/orders/{theirs.pk}").status_code == 404


def test_invoice_of_an_unpaid_order_is_409(api, installer, residents):
    order = services.order_create(acting_user=installer, order_type="activation", resident_ids=[residents[0].pk])
    assert api.get(f"/api/v1/orders/{order.pk}/invoice.pdf").status_code == 409
    assert order.status == OrderStatus.PROCESSING


def test_coupons_list_and_exchange(api, installer, make_coupon):
    mine = make_coupon(installer)
    free = make_coupon(None)
    assert [c["code"] for c in api.get("/api/v1/coupons").json()] == [mine.code]
    response = api.post("/api/v1/coupons", {"code": free.code})
    assert response.status_code == 201 and response.json()["balance"] == "10.00"
    assert api.post("/api/v1/coupons", {"code": free.code}).status_code == 422
    assert api.post("/api/v1/coupons", {"code": ""}).status_code == 422
    assert len(api.get("/api/v1/coupons").json()) == 2
