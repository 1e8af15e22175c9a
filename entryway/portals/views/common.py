"""Helpers shared by the portal views."""
from __future__ import annotations

from django.http import Http404
from django.urls import NoReverseMatch, reverse

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.portals import services


def safe_url(name: str, *args) -> str | None:
    """The URL of a page another module provides, or None while that module does not have it."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        return None


def own_installer_or_404(request, pk: int) -> Account:
    """One of the signed-in distributor's installers. Reaching for anyone else's is a 404, and audited."""
    installer = Account.objects.filter(pk=pk, role=Role.INSTALLER, parent_id=request.user.pk).first()
    if installer is None:
        other = Account.objects.filter(pk=pk).first()
        if other is not None:
            services.access_refused(acting_user=request.user, obj=other, what="account")
        raise Http404("No such installer.")
    return installer


def visible_or_404(request, queryset, pk: int, what: str):
    """An object through ``visible_to``; one that exists outside the caller's scope is audited, then a 404."""
    obj = queryset.visible_to(request.user).filter(pk=pk).first()
    if obj is None:
        other = queryset.model.objects.filter(pk=pk).first()
        if other is not None:
            services.access_refused(acting_user=request.user, obj=other, what=what)
        raise Http404("No such object.")
    return obj
