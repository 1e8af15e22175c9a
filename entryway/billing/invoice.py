"""Invoices as PDF (fpdf2) with embedded Unicode fonts, so names in all 12 languages render, CJK included."""
from __future__ import annotations

import pathlib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _
from fpdf import FPDF

from entryway.billing.models import Order

# Looked for in this order; the settings BILLING_INVOICE_FONT / BILLING_INVOICE_CJK_FONT come first.
TEXT_FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
]
CJK_FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
]


class InvoiceFontMissing(ImproperlyConfigured):
    """No Unicode font was found: invoices cannot be drawn."""


def _first_existing(preferred: str, candidates: list[str]) -> str | None:
    for path in ([preferred] if preferred else []) + candidates:
        if path and pathlib.Path(path).is_file():
            return path
    return None


def invoice_fonts() -> tuple[str, str]:
    text = _first_existing(settings.BILLING_INVOICE_FONT, TEXT_FONTS)
    cjk = _first_existing(settings.BILLING_INVOICE_CJK_FONT, CJK_FONTS)
    missing = []
    if text is None:
        missing.append("a Unicode text font (DejaVuSans.ttf from the fonts-dejavu-core package, or set "
                       "BILLING_INVOICE_FONT); looked in " + ", ".join(TEXT_FONTS))
    if cjk is None:
        missing.append("a CJK font (NotoSansCJK-Regular.ttc from the fonts-noto-cjk package, or set "
                       "BILLING_INVOICE_CJK_FONT); looked in " + ", ".join(CJK_FONTS))
    if missing:
        raise InvoiceFontMissing("Invoices need " + " and ".join(missing) + ".")
    return text, cjk


def _money(amount, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "--"


class _InvoicePDF(FPDF):
    footer_text = ""

    def footer(self):
        self.set_y(-14)
        self.set_font("body", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"{self.footer_text}  ·  {self.page_no()}/{{nb}}", align="C")


def _needs_cjk(texts) -> bool:
    """Chinese, Japanese or Korean characters anywhere (the CJK font is large: embed it only then)."""
    return any(ord(ch) >= 0x2E80 for text in texts for ch in text)


def render_invoice(order: Order) -> bytes:
    """The invoice of a paid order, in the active language and time zone."""
    text_font, cjk_font = invoice_fonts()
    items = list(order.items.all().only("name", "email", "price"))
    pdf = _InvoicePDF(format="A4")
    pdf.footer_text = settings.BILLING_INVOICE_ISSUER
    pdf.set_title(f"{_('Invoice')} {order.invoice_number or order.number}")
    pdf.set_author(settings.BILLING_INVOICE_ISSUER)
    pdf.add_font("body", "", text_font)
    labels = [_("Invoice"), _("Fee Details"), _("Order Number"), _("Total Price"), _("Company/Family")]
    billing_text = [order.payer_name, order.company, order.attn, order.address, order.note]
    if _needs_cjk(labels + billing_text + [i.name for i in items] + [i.email for i in items]):
        pdf.add_font("cjk", "", cjk_font)
        pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()

    pdf.set_font("body", size=20)
    pdf.cell(0, 12, _("Invoice"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", size=10)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 6, settings.BILLING_INVOICE_ISSUER, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)

    rows = [
        (_("Invoice Number"), order.invoice_number or "--"),
        (_("Order Number"), order.number),
        (_("Created Time"), _when(order.created_at)),
        (_("Paid Time"), _when(order.paid_at)),
        (_("Status"), str(order.get_status_display())),
        (_("Type"), str(order.get_order_type_display())),
        (_("Payer"), order.payer_name),
        (_("Payment method"), order.payment_method or "--"),
        (_("Provider reference"), order.provider_reference or "--"),
    ]
    billing = [
        (_("Company/Family"), order.company), (_("ATTN"), order.attn), (_("Address"), order.address),
        (_("TEL"), order.tel), (_("Fax"), order.fax), (_("Email"), order.email),
    ]
    rows += [(label, value) for label, value in billing if value]
    for label, value in rows:
        pdf.set_font("body", size=10)
        pdf.set_text_color(90, 90, 90)
        pdf.cell(48, 7, label)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")

    pdf.ln(4)
    pdf.set_font("body", size=13)
    pdf.cell(0, 9, _("Fee Details"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", size=9)
    pdf.set_fill_color(238, 241, 245)
    widths = (12, 78, 64, 36)
    for width, label in zip(widths, ("#", _("Name"), _("Email"), _("Price")), strict=True):
        pdf.cell(width, 7, label, border="B", fill=True, align="R" if label == _("Price") else "L")
    pdf.ln()
    for index, item in enumerate(items, 1):
        pdf.cell(widths[0], 6, str(index))
        pdf.cell(widths[1], 6, item.name[:48])
        pdf.cell(widths[2], 6, (item.email or "--")[:40])
        pdf.cell(widths[3], 6, _money(item.price, order.currency), align="R", new_x="LMARGIN", new_y="NEXT")

    pdf.ln(3)
    pdf.set_font("body", size=10)
    totals = [
        (_("%(n)s household(s)") % {"n": order.households}, ""),
        (_("Total Price"), _money(order.total_price, order.currency)),
        (_("Discount"), f"-{_money(order.coupon_amount, order.currency)} ({order.discount_percent}%)"),
        (_("Final Price"), _money(order.final_price, order.currency)),
    ]
    for label, value in totals:
        pdf.cell(sum(widths[:3]), 7, label, align="R")
        pdf.cell(widths[3], 7, value, align="R", new_x="LMARGIN", new_y="NEXT")
    if order.note:
        pdf.ln(3)
        pdf.multi_cell(0, 6, order.note, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
