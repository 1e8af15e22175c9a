"""Role checks and tenant-scoped lookups used by every view."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404


ADMIN, DISTRIBUTOR, INSTALLER, RESIDENT = "admin", "distributor", "installer", "resident"


def role_required(*roles: str):
    """Anonymous → login page; a logged-in account of another role → 403 (the route is not for it)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.role not in roles:
                raise PermissionDenied("This page is not for your role.")
            return view(request, *args, **kwargs)

        wrapper.entryway_roles = roles
        return wrapper

    return decorator


installer_required = role_required(INSTALLER)
distributor_required = role_required(DISTRIBUTOR)
admin_required = role_required(ADMIN)
resident_required = role_required(RESIDENT)


def get_visible_or_404(queryset_or_model, user, **lookup):
    """Fetch one object through ``visible_to``; anything outside the caller's scope is a 404."""
    qs = queryset_or_model
    if hasattr(qs, "objects"):
        qs = qs.objects.all()
    try:
        return qs.visible_to(user).get(**lookup)
    except (qs.model.DoesNotExist, ValueError):
        raise Http404("No such object.")


def editable_by(user, obj) -> bool:
    """Only the owning installer (or the platform admin) changes tenant objects; distributors read."""
    if user.role == ADMIN:
        return True
    return user.role == INSTALLER and getattr(obj, "installer_id", None) == user.pk


def require_editable(user, obj) -> None:
    if not editable_by(user, obj):
        raise PermissionDenied("You can look at this but not change it.")
