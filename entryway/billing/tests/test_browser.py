"""The four Subscription steps with the test provider, then the order in Payments and its invoice."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from entryway.billing.choices import OrderStatus
from entryway.billing.models import Order
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_activate_users_pay_in_test_mode_then_payments_and_invoice(login_page, live_server, installer,
                                                                   make_resident, make_coupon):
    make_resident(installer, name="Ryan", email="ryan@example.com")
    make_resident(installer, name="山田太郎", email="yamada@example.com")
    make_resident(installer, name="Zoe Park")
    coupon = make_coupon(installer, amount="1.50")
    page = login_page(installer)
    page.goto(f"{live_server.url}/subscription/")
    page.get_by_role("link", name="Active").first.click()

    # Step 2: Purchase Details
    page.wait_for_selector("text=Please Select Items(3000 Maximum At A Time)")
    page.get_by_label("Select all").check()
    assert page.locator("[data-selected-count=residents]").inner_text() == "3"
    assert "Selected 3 / 3" in page.locator(".selected-line").inner_text()
    page.get_by_label("Zoe Park").uncheck()
    assert page.locator("[data-selected-count=residents]").inner_text() == "2"
    page.get_by_role("button", name="Next").click()

    # Step 3: Payment Information
    page.wait_for_selector("h2:has-text('Payment Information')")
    assert page.locator("#total-price").inner_text() == "4.00"
    page.get_by_label(coupon.code).check()
    assert page.locator("#coupon-pay").inner_text() == "1.50"
    assert page.locator("#should-pay").inner_text() == "2.50"
    page.get_by_label("Test payment (TEST MODE)").check()
    page.get_by_label("Company/Family").fill("Acme Intercoms")
    page.get_by_label("ATTN").fill("Jay Yang")
    page.get_by_label("Email").fill("billing@example.com")
    screenshot(page, "subscription")
    page.get_by_role("button", name="Pay", exact=True).click()

    # The test provider's checkout, then Step 4: Confirmation
    page.wait_for_selector(".test-mode-banner")
    assert "TEST MODE" in page.locator(".test-mode-banner").inner_text()
    page.get_by_role("button", name="Pay (test)").click()
    page.wait_for_selector("h2:has-text('Confirmation')")
    assert "Payment succeeded" in page.locator("main").inner_text()
    order = Order.objects.get()
    assert order.status == OrderStatus.SUCCEED and str(order.final_price) == "2.50"

    # Payments: the order is listed; its details and invoice
    page.goto(f"{live_server.url}/payments/")
    page.get_by_label("Status").select_option("succeed")
    page.get_by_role("button", name="Search").click()
    row = page.locator("table.payments-table tbody tr").first
    assert order.number in row.inner_text() and "Succeed" in row.inner_text()
    screenshot(page, "payments")
    row.get_by_role("link", name="Info").click()
    page.wait_for_selector(f"text={order.number}")
    body = page.locator("main").inner_text()
    for text in ("Activation", "Succeed", "2 household(s)", "4.00 USD", "1.50 USD", "2.50 USD"):
        assert text in body, text
    with page.expect_download() as info:
        page.get_by_role("link", name="Download Invoice File").click()
    pdf = info.value.path().read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\x00", "")
    assert order.number in text and "山田太郎" in text and "Acme Intercoms" in text
    screenshot(page, "payment-details")
