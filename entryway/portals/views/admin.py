"""The platform admin portal: distributors, the device-model catalog, links to firmware and prices, the audit log."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.core.access import admin_required
from entryway.core.models import AuditLog
from entryway.core.pagination import paginate
from entryway.devices.models import DeviceModel
from entryway.portals import services
from entryway.portals.forms import DeviceModelForm, NewAccountForm, apply_errors
from entryway.portals.views.common import safe_url

SEARCH_MAX = 100


def _q(request) -> str:
    return (request.GET.get("q") or "").strip().replace("\x00", "")[:SEARCH_MAX]


@admin_required
def admin_home(request):
    counts = {
        "distributors": Account.objects.filter(role=Role.DISTRIBUTOR).count(),
        "installers": Account.objects.filter(role=Role.INSTALLER).count(),
        "device_models": DeviceModel.objects.count(),
    }
    links = [
        (_("Distributors"), safe_url("portals:admin_distributors")),
        (_("Device models"), safe_url("portals:admin_device_models")),
        (_("Firmware"), safe_url("firmware:admin_list")),
        (_("Default prices"), safe_url("billing:admin_prices")),
        (_("SIP"), safe_url("sip:admin")),
        (_("Audit log"), safe_url("portals:admin_audit")),
        (_("Help"), safe_url("portals:help")),
    ]
    recent = AuditLog.objects.select_related("impersonator")[:10]
    return render(request, "portals/admin/home.html", {
        "counts": counts, "links": [(label, url) for label, url in links if url], "recent": recent})


@admin_required
def distributor_list(request):
    q = _q(request)
    qs = Account.objects.filter(role=Role.DISTRIBUTOR).annotate(
        installer_count=Count("children", filter=Q(children__role=Role.INSTALLER)))
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(name__icontains=q) | Q(email__icontains=q))
    pageinfo = paginate(request, qs.order_by("username"))
    return render(request, "portals/admin/distributor_list.html", {"pageinfo": pageinfo, "q": q})


@admin_required
@require_http_methods(["GET", "POST"])
def distributor_create(request):
    form = NewAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.distributor_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Distributor “%(name)s” created. A link to set the password was e-mailed to "
                                        "%(email)s.") % {"name": account.display_name, "email": account.email})
            return redirect("portals:admin_distributors")
    return render(request, "portals/account_form.html", {
        "form": form, "title": _("New distributor"), "cancel_url": "portals:admin_distributors"})


@admin_required
@require_POST
def distributor_set_active(request, pk: int, active: bool):
    account = get_object_or_404(Account, pk=pk, role=Role.DISTRIBUTOR)
    services.account_set_active(acting_user=request.user, account=account, active=active)
    if active:
        messages.success(request, _("“%(name)s” can log in again.") % {"name": account.display_name})
    else:
        messages.success(request, _("“%(name)s” is disabled and cannot log in.") % {"name": account.display_name})
    return redirect("portals:admin_distributors")


@admin_required
def device_model_list(request):
    q = _q(request)
    qs = DeviceModel.objects.annotate(device_count=Count("devices"))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    pageinfo = paginate(request, qs.order_by("device_type", "name"), default_per_page=20)
    return render(request, "portals/admin/device_model_list.html", {"pageinfo": pageinfo, "q": q})


@admin_required
@require_http_methods(["GET", "POST"])
def device_model_form(request, pk: int | None = None):
    device_model = get_object_or_404(DeviceModel, pk=pk) if pk else None
    initial = None
    if device_model is not None:
        initial = {"name": device_model.name, "device_type": device_model.device_type,
                   "description": device_model.description, "relay_count": device_model.relay_count}
    form = DeviceModelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if device_model is None:
                device_model = services.device_model_create(acting_user=request.user, **form.cleaned_data)
            else:
                device_model = services.device_model_update(acting_user=request.user, device_model=device_model,
                                                            **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Device model “%(name)s” saved.") % {"name": device_model.name})
            return redirect("portals:admin_device_models")
    return render(request, "portals/admin/device_model_form.html", {"form": form, "device_model": device_model})


@admin_required
def audit_log(request):
    q = _q(request)
    qs = AuditLog.objects.select_related("impersonator")
    if q:
        qs = qs.filter(Q(actor_repr__icontains=q) | Q(action__icontains=q) | Q(object_repr__icontains=q)
                       | Q(object_id=q) | Q(request_id=q))
    pageinfo = paginate(request, qs, default_per_page=20)
    return render(request, "portals/admin/audit_log.html", {"pageinfo": pageinfo, "q": q})
