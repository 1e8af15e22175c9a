"""The Payments list as an export (CSV / XLSX) of the dashboard: the current search result."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from entryway.dashboard.exports import Export, local_time, register_export


def _orders(request):
    from entryway.billing.selectors import order_list
    from entryway.billing.views import _payments_filters

    return order_list(request.user, **_payments_filters(request)).order_by("-created_at", "-id")


def _order_row(o, tz):
    return [o.number, o.get_order_type_display(), o.households, o.total_price, o.final_price, o.currency,
            o.get_status_display(), local_time(o.created_at, tz)]


def register() -> None:
    register_export("payments", Export(
        _("Payments"), [_("Order Number"), _("Type"), _("The number of apartments"), _("Total Price"), _("Should Pay"),
                        _("Currency"), _("Status"), _("Created Time")], _orders, _order_row))
