"""Invoices: a PDF whose text (extracted with pypdf) carries the order, the fees and names in any language."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from entryway.billing import invoice, services

pytestmark = pytest.mark.django_db

NAMES = ["王小明", "山田太郎", "김민준", "Łukasz Żółć", "Đặng Thị Hương", "Ахмед Иванов", "Şükrü Öztürk", "Søren Ærø",
         "Amélie Garçon", "Hasan Đulić", "José Núñez", "Ryan"]


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    # CJK glyphs come from the embedded CID font; pypdf reports its two-byte codes with a NUL half.
    return "\n".join(page.extract_text() for page in reader.pages).replace("\x00", "")


@pytest.fixture
def paid_order(installer, make_resident, make_order):
    people = [make_resident(installer, name=name) for name in NAMES]
    order = make_order(people)
    return services.order_checkout(acting_user=installer, order=order, payment_method="test", billing={
        "company": "株式会社テスト", "attn": "Jay Yang", "address": "1 Rue de Paris", "tel": "+33 1 23",
        "email": "billing@example.com"})


def test_invoice_text_has_the_order_fees_and_every_name(paid_order):
    order, _outcome = services.order_mark_paid(order_id=paid_order.pk, provider="test",
                                               amount=paid_order.final_price, currency="USD", reference="test_ref")
    pdf = invoice.render_invoice(order)
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    for expected in [order.number, order.invoice_number, "Invoice", "Fee Details", "24.00 USD", "株式会社テスト",
                     "test_ref", "Succeed", "Activation", "12 household(s)"]:
        assert expected in text, expected
    for name in NAMES:
        assert name in text, name


def test_invoice_labels_follow_the_language(paid_order):
    from django.utils import translation

    order, _ = services.order_mark_paid(order_id=paid_order.pk, provider="test", amount=paid_order.final_price,
                                        currency="USD")
    with translation.override("ja"):
        text = text_of(invoice.render_invoice(order))
    assert "請求書" in text and "料金明細" in text and "山田太郎" in text


def test_missing_font_fails_with_a_clear_error(settings, monkeypatch):
    monkeypatch.setattr(invoice, "TEXT_FONTS", ["/nonexistent/DejaVuSans.ttf"])
    monkeypatch.setattr(invoice, "CJK_FONTS", ["/nonexistent/NotoSansCJK-Regular.ttc"])
    settings.BILLING_INVOICE_FONT = ""
    settings.BILLING_INVOICE_CJK_FONT = ""
    with pytest.raises(invoice.InvoiceFontMissing, match="fonts-dejavu-core.*fonts-noto-cjk"):
        invoice.invoice_fonts()
