"""The distributor portal: its installers, their users and devices (read only), account access, log in as."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.core.access import distributor_required
from entryway.core.pagination import paginate
from entryway.devices.models import IntercomDevice
from entryway.portals import services
from entryway.portals.forms import AccountAccessForm, NewAccountForm, apply_errors
from entryway.portals.middleware import SESSION_ACCESS_ENDED, switch_account
from entryway.portals.views.common import own_installer_or_404
from entryway.residents.models import Resident


def _count_of(model, **extra):
    return Coalesce(Subquery(
        model.objects.filter(installer_id=OuterRef("pk"), **extra).order_by().values("installer_id")
        .annotate(n=Count("id")).values("n"), output_field=IntegerField()), 0)


@distributor_required
def distributor_home(request):
    """Installers: the distributor's landing page."""
    ended = request.session.pop(SESSION_ACCESS_ENDED, None)
    if ended:
        messages.warning(request, _("%(name)s turned off the permission: you are back in your own portal.")
                         % {"name": ended})
    q = (request.GET.get("q") or "").strip().replace("\x00", "")[:100]
    qs = Account.objects.filter(role=Role.INSTALLER, parent=request.user).annotate(
        user_count=_count_of(Resident), device_count=_count_of(IntercomDevice))
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(name__icontains=q) | Q(email__icontains=q))
    pageinfo = paginate(request, qs.order_by("username"))
    return render(request, "portals/distributor/installer_list.html", {
        "pageinfo": pageinfo, "q": q, "access_enabled": request.user.account_access_enabled})


@distributor_required
@require_http_methods(["GET", "POST"])
def installer_create(request):
    form = NewAccountForm(request.POST or None, initial={"language": request.user.language,
                                                         "time_zone": request.user.time_zone})
    if request.method == "POST" and form.is_valid():
        try:
            account = services.installer_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Installer “%(name)s” created. A link to set the password was e-mailed to "
                                        "%(email)s.") % {"name": account.display_name, "email": account.email})
            return redirect("portals:distributor_home")
    return render(request, "portals/account_form.html", {
        "form": form, "title": _("New installer"), "cancel_url": "portals:distributor_home"})


@distributor_required
def installer_detail(request, pk: int):
    installer = own_installer_or_404(request, pk)
    tab = "devices" if request.GET.get("tab") == "devices" else "users"
    if tab == "users":
        qs = Resident.objects.visible_to(request.user).filter(installer=installer).only(
            "id", "name", "family_sip", "personal_sip", "room_name", "email", "family_member_count",
            "activated_at", "expires_at", "created_at")
    else:
        qs = IntercomDevice.objects.visible_to(request.user).filter(installer=installer).select_related(
            "device_model", "owner").only(
            "id", "mac", "location", "last_seen_at", "firmware_version", "created_at", "device_model__name",
            "device_model__device_type", "owner__name")
    pageinfo = paginate(request, qs)
    return render(request, "portals/distributor/installer_detail.html", {
        "installer": installer, "tab": tab, "pageinfo": pageinfo,
        "login_as_refusal": services.login_as_refusal(request.user, installer)})


@distributor_required
@require_POST
def installer_set_active(request, pk: int, active: bool):
    installer = own_installer_or_404(request, pk)
    services.account_set_active(acting_user=request.user, account=installer, active=active)
    if active:
        messages.success(request, _("“%(name)s” can log in again.") % {"name": installer.display_name})
    else:
        messages.success(request, _("“%(name)s” is disabled and cannot log in.") % {"name": installer.display_name})
    return redirect("portals:distributor_installer", pk=installer.pk)


@distributor_required
@require_POST
def installer_reset_password(request, pk: int):
    installer = own_installer_or_404(request, pk)
    try:
        services.installer_reset_password(acting_user=request.user, installer=installer)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The password of “%(name)s” was reset; a link to set a new one was e-mailed to "
                                    "%(email)s.") % {"name": installer.display_name, "email": installer.email})
    return redirect("portals:distributor_installer", pk=installer.pk)


@distributor_required
@require_POST
def installer_login_as(request, pk: int):
    """Switch into the installer's portal without a password, while they grant the permission."""
    installer = own_installer_or_404(request, pk)
    distributor = request.user
    try:
        services.login_as_start(acting_user=distributor, installer=installer)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("portals:distributor_installer", pk=installer.pk)
    switch_account(request, installer, impersonator=distributor)
    return redirect("web:home")


@distributor_required
@require_http_methods(["GET", "POST"])
def account_access(request):
    form = AccountAccessForm(request.POST or None, initial={"account_access_enabled": request.user.account_access_enabled})
    if request.method == "POST" and form.is_valid():
        services.account_access_set(acting_user=request.user, enabled=form.cleaned_data["account_access_enabled"])
        messages.success(request, _("Account access saved."))
        return redirect("portals:distributor_access")
    return render(request, "portals/distributor/account_access.html", {"form": form})
