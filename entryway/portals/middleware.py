"""Account access in every request: the second login step (TOTP) and distributors logged in as installers."""
from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from entryway.core.request_context import update_request_info

SESSION_IMPERSONATOR = "entryway_impersonator_id"
SESSION_2FA_PASSED = "entryway_2fa_passed"
SESSION_ACCESS_ENDED = "entryway_access_ended"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def switch_account(request, account, *, impersonator=None) -> None:
    """Log ``account`` in on this request's session, which starts afresh.

    The new session counts as having passed the second login step: the person switching passed it.
    """
    login(request, account, backend=BACKEND)
    request.session[SESSION_2FA_PASSED] = True
    if impersonator is not None:
        request.session[SESSION_IMPERSONATOR] = impersonator.pk


def _two_factor_exempt(path: str) -> bool:
    if path.startswith(settings.STATIC_URL):
        return True
    return path in {reverse("portals:two_factor_login"), reverse("accounts:logout"), reverse("set_language")}


class AccountAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.impersonator = None
        user = request.user
        session = request.session
        impersonator_id = session.get(SESSION_IMPERSONATOR)
        if impersonator_id is not None and user.is_authenticated:
            ended = self._check_impersonation(request, user, impersonator_id)
            if ended is not None:
                return ended
        elif impersonator_id is not None:
            session.pop(SESSION_IMPERSONATOR, None)
        elif user.is_authenticated and user.totp_enabled and not session.get(SESSION_2FA_PASSED) \
                and not _two_factor_exempt(request.path):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Two-factor login required."}, status=401)
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('portals:two_factor_login')}?{query}")
        return self.get_response(request)

    def _check_impersonation(self, request, installer, impersonator_id):
        from entryway.accounts.models import Account
        from entryway.portals import services

        distributor = Account.objects.filter(pk=impersonator_id).first()
        reason = services.login_as_refusal(distributor, installer) if distributor else "gone"
        if not reason:
            request.impersonator = distributor
            update_request_info(impersonator_id=distributor.pk)
            return None
        # The permission was turned off (or access withdrawn): this switched session ends now.
        if distributor is not None:
            services.login_as_end(acting_user=distributor, installer=installer, reason="permission_off")
        logout(request)
        if distributor is not None and distributor.is_active:
            switch_account(request, distributor)
            request.session[SESSION_ACCESS_ENDED] = installer.display_name
            return redirect("portals:distributor_home")
        return redirect(settings.LOGIN_URL)
