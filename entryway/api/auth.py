"""Who may call the user API: the portal's session (with CSRF) or an integrator's bearer token."""
from __future__ import annotations

from ninja.security import APIKeyCookie, HttpBearer

from entryway.accounts.models import ApiToken


class BearerToken(HttpBearer):
    def __init__(self, roles: tuple[str, ...]):
        super().__init__()
        self.roles = roles

    def authenticate(self, request, token):
        found = ApiToken.objects.authenticate(token)
        if found is None or not found.account.is_active or found.account.role not in self.roles:
            return None
        found.touch()
        request.user = found.account
        return found.account


class PortalSession(APIKeyCookie):
    """The portal's own session cookie; unsafe methods need the CSRF token (X-CSRFToken)."""

    param_name = "sessionid"

    def __init__(self, roles: tuple[str, ...]):
        super().__init__(csrf=True)
        self.roles = roles

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active and user.role in self.roles:
            return user
        return None


def auth_for(*roles: str) -> list:
    return [BearerToken(roles), PortalSession(roles)]


installer_auth = auth_for("installer")
resident_auth = auth_for("resident")
admin_auth = auth_for("admin")
