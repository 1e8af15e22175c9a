"""Setting, Subscription and Payments pages; prices and coupons; the test checkout; provider webhooks."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from entryway.accounts.models import Account
from entryway.billing import pricing, selectors, services
from entryway.billing.choices import (
    STATUS_FILTERS,
    TYPE_FILTERS,
    ChargeMode,
    OrderStatus,
    OrderType,
)
from entryway.billing.forms import (
    BillingInfoForm,
    CouponForm,
    ExchangeCouponForm,
    PriceListForm,
    SettingForm,
)
from entryway.billing.models import Order, PriceList
from entryway.billing.providers import ProviderError, enabled_providers, get_provider
from entryway.core.access import (
    ADMIN,
    DISTRIBUTOR,
    INSTALLER,
    RESIDENT,
    admin_required,
    distributor_required,
    get_visible_or_404,
    installer_required,
    resident_required,
    role_required,
)
from entryway.core.pagination import paginate
from entryway.residents.models import Resident

PURCHASE_SLUGS = {"active": OrderType.ACTIVATION, "renew": OrderType.SUBSCRIPTION,
                  "additional-app": OrderType.ADDITIONAL_APP}
SLUG_FOR = {v: k for k, v in PURCHASE_SLUGS.items()}
payer_required = role_required(INSTALLER, RESIDENT)


def _add_errors(form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


def _flash_errors(request, exc: ValidationError) -> None:
    for error in exc.messages:
        messages.error(request, error)


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


# ---------------------------------------------------------------- Setting


@installer_required
@require_http_methods(["GET", "POST"])
def setting(request):
    current = services.billing_setting_for(request.user)
    initial = {"charge_mode": current.charge_mode,
               "send_expiration_email": "on" if current.send_expiration_email else "off",
               "send_renew_email": "on" if current.send_renew_email else "off"}
    form = SettingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.billing_setting_update(acting_user=request.user, installer=request.user, **form.values())
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Setting saved."))
            return redirect("billing:settings")
    try:
        autop_url = reverse("deviceapi:autop_credentials")
    except NoReverseMatch:
        autop_url = ""
    return render(request, "billing/setting.html", {
        "form": form, "autop_url": autop_url, "prices": pricing.price_list_for(request.user),
        "activation_months": settings.BILLING_ACTIVATION_MONTHS,
        "reminder_days": settings.BILLING_EXPIRATION_REMINDER_DAYS,
    })


# ---------------------------------------------------------------- Subscription: step 1 and coupons


@installer_required
def subscription(request):
    coupons = list(selectors.coupon_list(request.user)[:50])
    return render(request, "billing/subscription.html", {
        "step": 1, "prices": pricing.price_list_for(request.user), "coupons": coupons, "now": timezone.now(),
        "exchange_form": ExchangeCouponForm(), "open_orders": list(selectors.open_orders(request.user)[:20]),
        "activation_months": settings.BILLING_ACTIVATION_MONTHS,
    })


@installer_required
@require_POST
def coupon_exchange(request):
    form = ExchangeCouponForm(request.POST)
    back = request.POST.get("next") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("billing:subscription")
    if form.is_valid():
        try:
            coupon = services.coupon_exchange(acting_user=request.user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, _("Coupon %(code)s added to your account.") % {"code": coupon.code})
    else:
        messages.error(request, _("Enter a coupon code."))
    return redirect(back)


# ---------------------------------------------------------------- Subscription: step 2


@installer_required
@require_http_methods(["GET", "POST"])
def purchase_details(request, kind: str):
    order_type = PURCHASE_SLUGS.get(kind)
    if order_type is None:
        raise Http404("No such purchase type.")
    limit = settings.BILLING_MAX_USERS_PER_ORDER
    q = (request.GET.get("q") or "").strip()[:100]
    errors: list[str] = []
    selected: set[int] = set()
    months = request.POST.get("months") or "12"
    apps = request.POST.get("apps_per_user") or "1"
    if request.method == "POST":
        raw_ids = request.POST.getlist("residents")
        selected = {int(i) for i in raw_ids if i.isdigit()}
        if len(selected) > settings.BILLING_ORDER_INLINE_MAX_USERS:
            # A bulk order is made in the background; its page shows the progress, then leads to paying.
            from entryway.dashboard.job_kinds import order_start

            job = order_start(acting_user=request.user, order_type=order_type, resident_ids=raw_ids,
                              months=int(months) if months.isdigit() else -1,
                              apps_per_user=int(apps) if apps.isdigit() else -1, back=request.get_full_path())
            return redirect("dashboard:job_detail", pk=job.pk)
        try:
            order = services.order_create(acting_user=request.user, order_type=order_type, resident_ids=raw_ids,
                                          months=int(months) if months.isdigit() else -1,
                                          apps_per_user=int(apps) if apps.isdigit() else -1)
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("billing:payment_information", number=order.number)
    candidates = list(selectors.purchase_candidates(request.user, order_type, q=q, limit=limit))
    prices = pricing.price_list_for(request.user)
    unit = pricing.unit_price(prices, order_type, months=1 if order_type == OrderType.SUBSCRIPTION else 0,
                              apps=1)
    return render(request, "billing/purchase_details.html", {
        "step": 2, "kind": kind, "order_type": order_type, "order_type_label": OrderType(order_type).label,
        "candidates": candidates, "selected": selected, "selected_count": len(selected), "q": q,
        "limit": limit, "errors": errors, "prices": prices, "unit": unit,
        "months_choices": range(1, settings.BILLING_MAX_RENEWAL_MONTHS + 1), "months": months,
        "apps_choices": range(1, services.MAX_APPS_PER_USER + 1), "apps": apps,
        "activation_months": settings.BILLING_ACTIVATION_MONTHS,
    })


# ---------------------------------------------------------------- Subscription: step 3 and 4


def _payer_order(request, number: str) -> Order:
    order = get_visible_or_404(Order.objects.select_related("coupon"), request.user, number=number)
    if request.user.role == RESIDENT and order.payer_id != request.user.pk:
        raise Http404("No such order.")
    return order


@payer_required
@require_http_methods(["GET", "POST"])
def payment_information(request, number: str):
    order = _payer_order(request, number)
    is_installer = request.user.role == INSTALLER
    remembered = services.billing_setting_for(order.installer) if is_installer else None
    initial = {f: getattr(remembered, f) for f in services.BILLING_INFO_FIELDS} if remembered else {}
    form = BillingInfoForm(request.POST or None, initial=initial)
    providers = enabled_providers()
    chosen_method = request.POST.get("payment_method") or order.payment_method or (
        providers[0].key if providers else "")
    chosen_coupon = request.POST.get("coupon", "")
    if request.method == "POST":
        if form.is_valid():
            try:
                order = services.order_checkout(
                    acting_user=request.user, order=order, payment_method=chosen_method,
                    coupon_id=chosen_coupon or None, billing=form.cleaned_data,
                    expected_total=request.POST.get("expected_total"))
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if order.status == OrderStatus.SUCCEED:
                    return redirect("billing:confirmation", number=order.number)
                provider = get_provider(order.payment_method)
                try:
                    checkout = provider.begin(order, base_url=_base_url(request))
                except ProviderError as exc:
                    form.add_error(None, str(exc))
                else:
                    return redirect(checkout.redirect_url)
        order.refresh_from_db()
    coupons = list(services.usable_coupons(order)) if is_installer and order.checkout_started_at is None else []
    return render(request, "billing/payment_information.html", {
        "step": 3, "order": order, "form": form, "coupons": coupons, "providers": providers,
        "chosen_method": chosen_method, "chosen_coupon": chosen_coupon, "is_installer": is_installer,
        "exchange_form": ExchangeCouponForm(), "locked": order.checkout_started_at is not None,
        "items": order.items.all()[:10], "more_items": max(0, order.households - 10),
    })


@payer_required
def confirmation(request, number: str):
    order = _payer_order(request, number)
    return render(request, "billing/confirmation.html", {"step": 4, "order": order})


@payer_required
@require_POST
def order_cancel(request, number: str):
    order = _payer_order(request, number)
    try:
        services.order_cancel(acting_user=request.user, order=order)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("Order %(number)s cancelled.") % {"number": order.number})
    return redirect("billing:confirmation", number=order.number)


# ---------------------------------------------------------------- Providers' pages


@payer_required
@require_http_methods(["GET", "POST"])
def test_checkout(request, number: str):
    """The built-in test provider's checkout page (TEST MODE): pay, fail or abandon."""
    order = _payer_order(request, number)
    provider = get_provider("test")
    if not provider.enabled() or order.payment_method != "test":
        raise Http404("This order is not paid with the test provider.")
    if request.method == "POST" and order.status == OrderStatus.PROCESSING:
        choice = request.POST.get("choice")
        if choice == "pay":
            services.order_mark_paid(order_id=order.pk, provider="test", reference=f"test_{secrets.token_hex(8)}",
                                     amount=order.final_price, currency=order.currency, acting_user=request.user)
            return redirect("billing:confirmation", number=order.number)
        if choice == "fail":
            services.order_fail(order_id=order.pk, reason=_("Payment declined in TEST MODE."),
                                acting_user=request.user)
            return redirect("billing:confirmation", number=order.number)
        if choice == "abandon":
            return redirect("billing:payment_information", number=order.number)
    return render(request, "billing/test_checkout.html", {"order": order})


@payer_required
@require_http_methods(["GET", "POST"])
def bank_transfer(request, number: str):
    order = _payer_order(request, number)
    if order.payment_method != "bank_transfer":
        raise Http404("This order is not paid by bank transfer.")
    if request.method == "POST":
        try:
            services.order_bank_transfer_announce(acting_user=request.user, order=order)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, _("Thank you. The order is confirmed once the transfer arrives."))
        return redirect("billing:confirmation", number=order.number)
    return render(request, "billing/bank_transfer.html", {
        "order": order, "details": settings.BILLING_BANK_TRANSFER_DETAILS})


@csrf_exempt
@require_POST
def webhook(request, provider: str):
    found = get_provider(provider)
    if found is None or not found.accepts_webhooks:
        raise Http404("No such payment provider.")
    return found.handle_webhook(request)


# ---------------------------------------------------------------- Payments


def _payments_filters(request) -> dict:
    order_type = request.GET.get("type", "")
    status = request.GET.get("status", "")
    return {"order_type": order_type if order_type in OrderType.values else "",
            "status": status if status in OrderStatus.values else "",
            "number": "".join(c for c in (request.GET.get("number") or "") if c.isdigit())[:20]}


@installer_required
def payments(request):
    filters = _payments_filters(request)
    pageinfo = paginate(request, selectors.order_list(request.user, **filters))
    return render(request, "billing/payments.html", {
        "pageinfo": pageinfo, "filters": filters, "type_filters": TYPE_FILTERS, "status_filters": STATUS_FILTERS,
    })


@role_required(INSTALLER, RESIDENT, DISTRIBUTOR, ADMIN)
def payment_detail(request, number: str):
    order = get_visible_or_404(Order.objects.select_related("coupon"), request.user, number=number)
    pageinfo = paginate(request, order.items.all(), count=order.households)
    return render(request, "billing/payment_detail.html", {"order": order, "pageinfo": pageinfo})


@role_required(INSTALLER, RESIDENT, DISTRIBUTOR, ADMIN)
def invoice(request, number: str):
    order = get_visible_or_404(Order, request.user, number=number)
    if order.status != OrderStatus.SUCCEED:
        raise Http404("Only a paid order has an invoice.")
    # fpdf2 and its fonts are loaded by the first invoice, not by every process.
    from entryway.billing.invoice import InvoiceFontMissing, render_invoice

    try:
        pdf = render_invoice(order)
    except InvoiceFontMissing as exc:
        return render(request, "billing/invoice_unavailable.html", {"order": order, "reason": str(exc)}, status=503)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{order.number}.pdf"'
    return response


@installer_required
@require_http_methods(["GET", "POST"])
def payment_delete(request, number: str):
    order = get_visible_or_404(Order.objects.listed(), request.user, number=number)
    if request.method == "POST":
        services.order_hide(acting_user=request.user, order=order)
        messages.success(request, _("Order %(number)s deleted from the list.") % {"number": order.number})
        return redirect("billing:payments")
    consequences = [_("It disappears from the Payments list."),
                    _("The order and its invoice are kept for accounting.")]
    if order.status == OrderStatus.PROCESSING:
        consequences.append(_("The unpaid order is cancelled and its coupon money returns to the coupon."))
    return render(request, "includes/confirm_delete.html", {
        "object_label": _("order %(number)s") % {"number": order.number}, "consequences": consequences,
        "cancel_url": reverse("billing:payment_detail", args=[order.number]),
    })


# ---------------------------------------------------------------- Prices


def _price_initial(prices: PriceList) -> dict:
    return {f: getattr(prices, f) for f in services.PRICE_FIELDS}


def _save_prices(request, form, distributor) -> bool:
    if not form.is_valid():
        return False
    try:
        services.price_list_set(acting_user=request.user, distributor=distributor, **form.cleaned_data)
    except ValidationError as exc:
        _add_errors(form, exc)
        return False
    messages.success(request, _("Prices saved."))
    return True


@admin_required
@require_http_methods(["GET", "POST"])
def admin_prices(request):
    default = pricing.default_price_list()
    form = PriceListForm(request.POST or None, initial=_price_initial(default))
    if request.method == "POST" and _save_prices(request, form, None):
        return redirect("billing:admin_prices")
    distributors = Account.objects.filter(role="distributor").prefetch_related(
        Prefetch("price_list", queryset=PriceList.objects.all())).order_by("username")
    pageinfo = paginate(request, distributors)
    rows = []
    for d in pageinfo.object_list:
        try:
            own = d.price_list
        except PriceList.DoesNotExist:
            own = None
        rows.append({"distributor": d, "prices": own})
    return render(request, "billing/admin_prices.html", {"form": form, "pageinfo": pageinfo, "rows": rows,
                                                         "default": default})


@admin_required
@require_http_methods(["GET", "POST"])
def admin_distributor_prices(request, pk: int):
    distributor = get_object_or_404(Account, pk=pk, role="distributor")
    prices = PriceList.objects.filter(distributor=distributor).first() or pricing.default_price_list()
    form = PriceListForm(request.POST or None, initial=_price_initial(prices))
    if request.method == "POST":
        if request.POST.get("action") == "reset":
            services.price_list_reset(acting_user=request.user, distributor=distributor)
            messages.success(request, _("%(name)s now uses the platform default prices.") % {
                "name": distributor.display_name})
            return redirect("billing:admin_prices")
        if _save_prices(request, form, distributor):
            return redirect("billing:admin_prices")
    return render(request, "billing/price_form.html", {
        "form": form, "distributor": distributor, "has_own": prices.distributor_id is not None,
        "cancel_url": reverse("billing:admin_prices")})


@distributor_required
@require_http_methods(["GET", "POST"])
def distributor_prices(request):
    prices = PriceList.objects.filter(distributor=request.user).first() or pricing.default_price_list()
    form = PriceListForm(request.POST or None, initial=_price_initial(prices))
    if request.method == "POST":
        if request.POST.get("action") == "reset":
            services.price_list_reset(acting_user=request.user, distributor=request.user)
            messages.success(request, _("Your installers now pay the platform default prices."))
            return redirect("billing:distributor_prices")
        if _save_prices(request, form, request.user):
            return redirect("billing:distributor_prices")
    return render(request, "billing/price_form.html", {
        "form": form, "distributor": request.user, "has_own": prices.distributor_id is not None,
        "default": pricing.default_price_list(), "cancel_url": reverse("billing:distributor_prices")})


# ---------------------------------------------------------------- Coupons (admin and distributor)


def _coupons_page(request, url_name: str):
    user = request.user
    installers = Account.objects.filter(role="installer", is_active=True)
    if user.role == DISTRIBUTOR:
        installers = installers.filter(parent=user)
    form = CouponForm(request.POST or None, installers=installers.order_by("username"))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        tz = timezone.get_current_timezone()
        try:
            coupon = services.coupon_create(
                acting_user=user, amount=data["amount"], fee_type=data["fee_type"], currency=data["currency"],
                installer=data["installer"], code=data["code"],
                valid_from=timezone.make_aware(data["valid_from"].replace(tzinfo=None), tz),
                valid_until=timezone.make_aware(data["valid_until"].replace(tzinfo=None), tz))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Coupon %(code)s created.") % {"code": coupon.code})
            return redirect(url_name)
    q = (request.GET.get("q") or "").strip()[:32]
    pageinfo = paginate(request, selectors.coupon_list(user, q=q))
    return render(request, "billing/coupons.html", {"form": form, "pageinfo": pageinfo, "q": q,
                                                    "now": timezone.now()})


@admin_required
@require_http_methods(["GET", "POST"])
def admin_coupons(request):
    return _coupons_page(request, "billing:admin_coupons")


@distributor_required
@require_http_methods(["GET", "POST"])
def distributor_coupons(request):
    return _coupons_page(request, "billing:distributor_coupons")


# ---------------------------------------------------------------- Bank transfers (platform admin)


@admin_required
@require_http_methods(["GET", "POST"])
def admin_bank_transfers(request):
    if request.method == "POST":
        order = get_object_or_404(Order, number=request.POST.get("number", "")[:20], payment_method="bank_transfer")
        try:
            if request.POST.get("action") == "confirm":
                services.order_bank_transfer_confirm(acting_user=request.user, order=order,
                                                     reference=request.POST.get("reference", ""))
                messages.success(request, _("Order %(number)s confirmed.") % {"number": order.number})
            elif request.POST.get("action") == "reject":
                services.order_bank_transfer_reject(acting_user=request.user, order=order)
                messages.success(request, _("Order %(number)s marked Failed.") % {"number": order.number})
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("billing:admin_bank_transfers")
    qs = (Order.objects.filter(payment_method="bank_transfer",
                               status__in=[OrderStatus.PROCESSING, OrderStatus.SYSTEM_PROCESSING])
          .select_related("installer").order_by("-status", "created_at"))
    pageinfo = paginate(request, qs)
    return render(request, "billing/admin_bank_transfers.html", {"pageinfo": pageinfo})


# ---------------------------------------------------------------- Resident pays (Pay By End User)


@resident_required
@require_http_methods(["GET", "POST"])
def resident_billing(request):
    household = Resident.objects.filter(account_id=request.user.pk).select_related("installer").first()
    if household is None:
        return render(request, "billing/resident_billing.html", {"household": None})
    setting_ = services.billing_setting_for(household.installer)
    can_pay = setting_.charge_mode == ChargeMode.END_USER
    order_type = OrderType.ACTIVATION if household.activated_at is None else OrderType.SUBSCRIPTION
    errors: list[str] = []
    months = request.POST.get("months") or "12"
    if request.method == "POST":
        try:
            order = services.order_create(acting_user=request.user, order_type=order_type,
                                          resident_ids=[household.pk],
                                          months=int(months) if months.isdigit() else -1)
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("billing:payment_information", number=order.number)
    prices = pricing.price_list_for(household.installer)
    orders = Order.objects.visible_to(request.user).listed().only(*selectors.ORDER_LIST_FIELDS)[:20]
    return render(request, "billing/resident_billing.html", {
        "household": household, "can_pay": can_pay, "order_type": order_type, "errors": errors,
        "prices": prices, "months": months, "months_choices": range(1, settings.BILLING_MAX_RENEWAL_MONTHS + 1),
        "activation_months": settings.BILLING_ACTIVATION_MONTHS, "orders": orders,
        "activation_price": pricing.unit_price(prices, OrderType.ACTIVATION, premium=household.premium_plan),
        "month_price": pricing.unit_price(prices, OrderType.SUBSCRIPTION, months=1, premium=household.premium_plan),
    })
