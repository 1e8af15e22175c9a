"""Setting, Subscription, Payments, prices and coupons pages: roles, tenancy, the four steps and bad input."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from entryway.billing import services
from entryway.billing.choices import OrderStatus
from entryway.billing.models import BillingSetting, Coupon, Order, PriceList
from entryway.core.models import AuditLog

pytestmark = pytest.mark.django_db

INSTALLER_PAGES = ["billing:settings", "billing:subscription", "billing:payments"]


@pytest.fixture
def order(installer, residents, make_order):
    return make_order(residents[:2])


@pytest.fixture
def paid(installer, order):
    order = services.order_checkout(acting_user=installer, order=order, payment_method="test")
    order, _ = services.order_mark_paid(order_id=order.pk, provider="test", amount=order.final_price, currency="USD")
    return order


@pytest.mark.parametrize("name", INSTALLER_PAGES)
def test_installer_pages_by_role(client, installer, distributor, name):
    url = reverse(name)
    assert client.get(url).status_code == 302
    client.force_login(distributor)
    assert client.get(url).status_code == 403
    client.force_login(installer)
    assert client.get(url).status_code == 200


def test_setting_submit_and_autop_card(installer_client, installer):
    page = installer_client.get(reverse("billing:settings")).content.decode()
    assert "Pay By End User" in page and "Send Renew Email To End User" in page
    assert reverse("deviceapi:autop_credentials") in page
    response = installer_client.post(reverse("billing:settings"), {
        "charge_mode": "end_user", "send_expiration_email": "off", "send_renew_email": "on"})
    assert response.status_code == 302
    setting = BillingSetting.objects.get(installer=installer)
    assert (setting.charge_mode, setting.send_expiration_email, setting.send_renew_email) == ("end_user", False, True)
    assert AuditLog.objects.filter(action="billing.setting_update").exists()
    bad = installer_client.post(reverse("billing:settings"), {"charge_mode": "free", "send_expiration_email": "x"})
    assert bad.status_code == 200 and b"errorlist" in bad.content


def test_four_steps_with_the_test_provider(installer_client, installer, residents, make_coupon):
    coupon = make_coupon(installer, amount="1.00")
    step1 = installer_client.get(reverse("billing:subscription")).content.decode()
    assert "Purchase Types" in step1 and coupon.code in step1
    url = reverse("billing:purchase_details", args=["active"])
    step2 = installer_client.get(url).content.decode()
    assert "3000 Maximum At A Time" in step2 and "Selected" in step2 and "User 0" in step2
    response = installer_client.post(url, {"residents": [r.pk for r in residents]})
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == reverse("billing:payment_information", args=[order.number])
    step3 = installer_client.get(response.url).content.decode()
    for label in ["Transaction Type", "Transaction Number", order.number, "Total Price", "Don't Use Coupon",
                  "Exchange Coupon", "Coupon Pay", "Should Pay", "Company/Family", "ATTN", "TEL", "Fax"]:
        assert label in step3, label
    response = installer_client.post(response.url, {
        "coupon": coupon.pk, "payment_method": "test", "expected_total": "6.00", "company": "Acme",
        "attn": "Jay", "email": "pay@example.com"})
    assert response.status_code == 302 and response.url == reverse("billing:test_checkout", args=[order.number])
    checkout = installer_client.get(response.url).content.decode()
    assert "TEST MODE" in checkout and "5.00" in checkout
    response = installer_client.post(response.url, {"choice": "pay"})
    assert response.url == reverse("billing:confirmation", args=[order.number])
    order.refresh_from_db()
    assert order.status == OrderStatus.SUCCEED and order.final_price == Decimal("5.00")
    assert "Payment succeeded" in installer_client.get(response.url).content.decode()
    # billing information is remembered for next time
    assert BillingSetting.objects.get(installer=installer).company == "Acme"


def test_tampered_price_is_refused_on_the_page(installer_client, order):
    url = reverse("billing:payment_information", args=[order.number])
    response = installer_client.post(url, {"payment_method": "test", "expected_total": "0.01"})
    assert response.status_code == 200 and "the price is set by the platform" in response.content.decode()
    order.refresh_from_db()
    assert order.checkout_started_at is None


def test_test_checkout_fail_and_abandon(installer_client, installer, order):
    services.order_checkout(acting_user=installer, order=order, payment_method="test")
    url = reverse("billing:test_checkout", args=[order.number])
    assert installer_client.post(url, {"choice": "abandon"}).url == reverse("billing:payment_information",
                                                                             args=[order.number])
    assert Order.objects.get().status == OrderStatus.PROCESSING
    installer_client.post(url, {"choice": "fail"})
    assert Order.objects.get().status == OrderStatus.FAILED


def test_too_many_users_and_foreign_users_are_refused(installer_client, other_installer, make_resident, residents,
                                                      settings):
    foreign = make_resident(other_installer, name="Foreign")
    url = reverse("billing:purchase_details", args=["active"])
    response = installer_client.post(url, {"residents": [residents[0].pk, foreign.pk]})
    assert response.status_code == 200 and "not among your users" in response.content.decode()
    settings.BILLING_MAX_USERS_PER_ORDER = 2
    response = installer_client.post(url, {"residents": [r.pk for r in residents]})
    assert "At most 2 users" in response.content.decode()
    assert not Order.objects.exists()
    assert installer_client.get(reverse("billing:purchase_details", args=["nope"])).status_code == 404


def test_other_installers_orders_are_404(other_installer_client, order, paid):
    for name in ["billing:payment_information", "billing:confirmation", "billing:payment_detail",
                 "billing:invoice", "billing:payment_delete", "billing:test_checkout"]:
        assert other_installer_client.get(reverse(name, args=[paid.number])).status_code == 404, name


def test_payments_list_filters_and_query_bound(installer_client, installer, residents, make_order, paid,
                                               django_assert_max_num_queries):
    other = make_order([residents[2]])
    services.order_cancel(acting_user=installer, order=other)
    with django_assert_max_num_queries(8):
        page = installer_client.get(reverse("billing:payments")).content.decode()
    assert paid.number in page and other.number in page
    page = installer_client.get(reverse("billing:payments"), {"status": "succeed"}).content.decode()
    assert paid.number in page and other.number not in page
    page = installer_client.get(reverse("billing:payments"), {"type": "subscription"}).content.decode()
    assert paid.number not in page
    page = installer_client.get(reverse("billing:payments"), {"number": other.number[-6:]}).content.decode()
    assert other.number in page and paid.number not in page
    page = installer_client.get(reverse("billing:payments"), {"status": "<script>", "type": "x" * 500}).content
    assert b"<script>" not in page


def test_payment_detail_invoice_and_soft_delete(installer_client, paid):
    detail = installer_client.get(reverse("billing:payment_detail", args=[paid.number])).content.decode()
    for label in ["Order Number", "Created Time", "Payer", "Provider reference", "household(s)", "Discount",
                  "Final Price", "Download Invoice File"]:
        assert label in detail, label
    pdf = installer_client.get(reverse("billing:invoice", args=[paid.number]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    confirm = installer_client.get(reverse("billing:payment_delete", args=[paid.number]))
    assert b"kept for accounting" in confirm.content
    installer_client.post(reverse("billing:payment_delete", args=[paid.number]))
    installer_client.get(reverse("billing:payments"))  # shows the flash message once
    assert paid.number not in installer_client.get(reverse("billing:payments")).content.decode()
    # kept, and its invoice too
    assert Order.objects.filter(pk=paid.pk, hidden_at__isnull=False).exists()
    assert installer_client.get(reverse("billing:invoice", args=[paid.number])).status_code == 200


def test_unpaid_order_has_no_invoice(installer_client, order):
    assert installer_client.get(reverse("billing:invoice", args=[order.number])).status_code == 404


def test_exchange_coupon_page(installer_client, installer, make_coupon):
    coupon = make_coupon(None)
    installer_client.post(reverse("billing:coupon_exchange"), {"code": coupon.code})
    assert Coupon.objects.get(pk=coupon.pk).installer_id == installer.pk
    response = installer_client.post(reverse("billing:coupon_exchange"), {"code": "missing"}, follow=True)
    assert "No coupon has this code" in response.content.decode()


def test_prices_pages(client, admin_account, distributor, installer):
    for name in ["billing:admin_prices", "billing:admin_coupons", "billing:admin_bank_transfers"]:
        client.force_login(installer)
        assert client.get(reverse(name)).status_code == 403
        client.force_login(admin_account)
        assert client.get(reverse(name)).status_code == 200
    client.post(reverse("billing:admin_prices"), {"currency": "USD", "activation_fee": "3", "renewal_fee": "1.5",
                                                  "additional_app_fee": "1", "premium_plan_fee": "0"})
    assert PriceList.objects.get(distributor__isnull=True).activation_fee == Decimal("3.00")
    client.force_login(distributor)
    assert client.get(reverse("billing:admin_prices")).status_code == 403
    response = client.post(reverse("billing:distributor_prices"), {
        "currency": "EUR", "activation_fee": "4", "renewal_fee": "2", "additional_app_fee": "1",
        "premium_plan_fee": "0.5"})
    assert response.status_code == 302
    assert PriceList.objects.get(distributor=distributor).currency == "EUR"
    bad = client.post(reverse("billing:distributor_prices"), {"currency": "EUR", "activation_fee": "-4",
                                                              "renewal_fee": "x"})
    assert bad.status_code == 200 and b"errorlist" in bad.content


def test_distributor_coupons_page(client, distributor, installer, other_installer):
    client.force_login(distributor)
    now = timezone.now()
    fmt = "%Y-%m-%dT%H:%M"
    response = client.post(reverse("billing:distributor_coupons"), {
        "installer": installer.pk, "fee_type": "all", "currency": "USD", "amount": "50",
        "valid_from": (now - datetime.timedelta(days=1)).strftime(fmt),
        "valid_until": (now + datetime.timedelta(days=30)).strftime(fmt)})
    assert response.status_code == 302
    coupon = Coupon.objects.get()
    assert coupon.installer_id == installer.pk and coupon.balance == Decimal("50.00")
    response = client.post(reverse("billing:distributor_coupons"), {
        "installer": other_installer.pk, "fee_type": "all", "currency": "USD", "amount": "5",
        "valid_from": now.strftime(fmt), "valid_until": (now + datetime.timedelta(days=1)).strftime(fmt)})
    assert response.status_code == 200 and Coupon.objects.count() == 1
    assert coupon.code in client.get(reverse("billing:distributor_coupons")).content.decode()


def test_bank_transfer_confirmed_by_the_admin(client, installer, admin_account, order):
    services.order_checkout(acting_user=installer, order=order, payment_method="bank_transfer")
    client.force_login(installer)
    assert client.get(reverse("billing:bank_transfer", args=[order.number])).status_code == 200
    client.post(reverse("billing:bank_transfer", args=[order.number]))
    assert Order.objects.get().status == OrderStatus.SYSTEM_PROCESSING
    client.force_login(admin_account)
    assert order.number in client.get(reverse("billing:admin_bank_transfers")).content.decode()
    client.post(reverse("billing:admin_bank_transfers"), {"number": order.number, "action": "confirm",
                                                          "reference": "SEPA-77"})
    order.refresh_from_db()
    assert order.status == OrderStatus.SUCCEED and order.provider_reference == "SEPA-77"


def test_resident_pays_in_their_portal(client, installer, resident):
    url = reverse("billing:resident_billing")
    client.force_login(installer)
    assert client.get(url).status_code == 403
    client.force_login(resident.account)
    page = client.get(url).content.decode()
    assert "Your installer pays" in page
    services.billing_setting_update(acting_user=installer, installer=installer, charge_mode="end_user",
                                    send_expiration_email=True, send_renew_email=True)
    response = client.post(url)
    order = Order.objects.get()
    assert response.url == reverse("billing:payment_information", args=[order.number])
    response = client.post(response.url, {"payment_method": "test", "expected_total": str(order.total_price)})
    response = client.post(response.url, {"choice": "pay"})
    resident.refresh_from_db()
    assert resident.active_status == "normal"
    assert order.number in client.get(url).content.decode()
    assert client.get(reverse("billing:payment_detail", args=[order.number])).status_code == 200
