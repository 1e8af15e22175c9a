"""The account menu (upper corner): Customer Service, Account Setting, password, two-factor login, access log."""
from __future__ import annotations

import pyotp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from entryway.accounts import throttle
from entryway.accounts.models import Account
from entryway.core.access import installer_required, role_required
from entryway.core.audit import audit
from entryway.core.models import AuditLog
from entryway.core.pagination import paginate
from entryway.portals import services
from entryway.portals.forms import (
    CodeForm,
    CustomerServiceForm,
    PermissionForm,
    PreferencesForm,
    apply_errors,
)
from entryway.portals.middleware import SESSION_2FA_PASSED, SESSION_IMPERSONATOR, switch_account

staff_required = role_required("admin", "distributor", "installer")
SESSION_PENDING_SECRET = "entryway_totp_pending"


def _refuse_when_switched(request) -> None:
    """A distributor in an installer's portal helps with their data, not with their login."""
    if getattr(request, "impersonator", None) is not None:
        raise PermissionDenied(_("Only the account owner can change this, not a distributor logged in as them."))


@role_required("installer", "distributor")
@require_http_methods(["GET", "POST"])
def customer_service(request):
    user = request.user
    audience = "installer" if user.role == "distributor" else "resident"
    form = CustomerServiceForm(request.POST or None, audience=audience, initial={
        "phone": user.customer_service_phone, "email": user.customer_service_email})
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_service_update(acting_user=user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Customer Service contact saved."))
            return redirect("portals:customer_service")
    return render(request, "portals/account/customer_service.html", {"form": form, "audience": audience})


@role_required("admin", "distributor", "installer", "resident")
@require_http_methods(["GET", "POST"])
def account_settings(request):
    """Account Setting: Permission Granted (once the distributor offers account access), language, time zone,
    and the installer's smart-home portal."""
    user = request.user
    is_installer = user.role == "installer"
    offered = is_installer and services.account_access_offered(user)
    permission_form = PermissionForm(initial={"permission_granted": user.permission_granted}) if offered else None
    prefs_form = PreferencesForm(initial={"language": user.language, "time_zone": user.time_zone,
                                          "smart_home_url": user.smart_home_url}, with_smart_home=is_installer)
    if request.method == "POST":
        _refuse_when_switched(request)
        if request.POST.get("section") == "permission" and is_installer:
            permission_form = PermissionForm(request.POST)
            if permission_form.is_valid():
                try:
                    services.permission_granted_set(acting_user=user,
                                                    granted=permission_form.cleaned_data["permission_granted"])
                except ValidationError as exc:
                    apply_errors(permission_form, exc)
                else:
                    messages.success(request, _("Permission Granted saved."))
                    return redirect("portals:account_settings")
        else:
            prefs_form = PreferencesForm(request.POST, with_smart_home=is_installer)
            if prefs_form.is_valid():
                try:
                    services.account_preferences_update(acting_user=user, **prefs_form.cleaned_data)
                except ValidationError as exc:
                    apply_errors(prefs_form, exc)
                else:
                    messages.success(request, _("Account Setting saved."))
                    response = redirect("portals:account_settings")
                    # the account's language now applies: drop an older choice from the language switch
                    response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
                    return response
    return render(request, "portals/account/settings.html", {
        "permission_form": permission_form, "prefs_form": prefs_form, "offered": offered})


@method_decorator(role_required("admin", "distributor", "installer", "resident"), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "portals/account/password_change.html"
    success_url = reverse_lazy("portals:password_change_done")

    def dispatch(self, request, *args, **kwargs):
        _refuse_when_switched(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        audit(acting_user=self.request.user, action="account.password_change", obj=self.request.user,
              installer=self.request.user if self.request.user.role == "installer" else None,
              after={"password": "***"})
        return response


@role_required("admin", "distributor", "installer", "resident")
def password_change_done(request):
    messages.success(request, _("Your password was changed."))
    return redirect("portals:account_settings")


@staff_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Turn two-factor login on (shown secret + one code to confirm) or off (one code)."""
    _refuse_when_switched(request)
    user = request.user
    form = CodeForm(request.POST or None)
    secret = None
    if not user.totp_enabled:
        secret = request.session.get(SESSION_PENDING_SECRET)
        if not secret or request.method == "GET":
            secret = services.totp_new_secret()
            request.session[SESSION_PENDING_SECRET] = secret
    if request.method == "POST" and form.is_valid():
        try:
            if user.totp_enabled:
                services.totp_disable(acting_user=user, code=form.cleaned_data["code"])
                messages.success(request, _("Two-factor login is off."))
            else:
                services.totp_enable(acting_user=user, secret=secret, code=form.cleaned_data["code"])
                request.session.pop(SESSION_PENDING_SECRET, None)
                request.session[SESSION_2FA_PASSED] = True
                messages.success(request, _("Two-factor login is on. You will be asked for a code at each login."))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("portals:two_factor")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="entryway") if secret else ""
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) if secret else ""
    return render(request, "portals/account/two_factor.html", {
        "form": form, "secret": grouped, "uri": uri, "enabled": user.totp_enabled})


@require_http_methods(["GET", "POST"])
def two_factor_login(request):
    """The second login step for accounts with two-factor login on."""
    user = request.user
    if not user.is_authenticated:
        return redirect("accounts:login")
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = reverse("web:home")
    if not user.totp_enabled or request.session.get(SESSION_2FA_PASSED):
        return redirect(next_url)
    form = CodeForm(request.POST or None)
    throttle_key = f"2fa:{user.username}"
    ip = request.META.get("REMOTE_ADDR")
    if request.method == "POST" and form.is_valid():
        if throttle.is_locked(throttle_key, ip):
            logout(request)
            messages.error(request, _("Too many wrong codes. Log in again in a few minutes."))
            return redirect("accounts:login")
        if services.totp_verify(user, form.cleaned_data["code"]):
            throttle.clear(throttle_key, ip)
            request.session.cycle_key()
            request.session[SESSION_2FA_PASSED] = True
            return redirect(next_url)
        throttle.record_failure(throttle_key, ip)
        form.add_error("code", _("The code is not right. Check the clock of your phone and try again."))
    return render(request, "portals/account/two_factor_login.html", {"form": form, "next": next_url})


@installer_required
def access_log(request):
    """Every time the distributor switched into (or out of) this installer's portal."""
    qs = AuditLog.objects.filter(installer=request.user, action__startswith="access.login_as")
    pageinfo = paginate(request, qs, default_per_page=20)
    return render(request, "portals/account/access_log.html", {"pageinfo": pageinfo})


@login_required
@require_POST
def impersonate_stop(request):
    """Back to my portal: the distributor leaves the installer's portal."""
    distributor = getattr(request, "impersonator", None)
    if distributor is None:
        return redirect("web:home")
    installer = request.user
    services.login_as_end(acting_user=distributor, installer=installer, reason="back")
    request.session.pop(SESSION_IMPERSONATOR, None)
    switch_account(request, Account.objects.get(pk=distributor.pk))
    return redirect("portals:distributor_installer", pk=installer.pk)
