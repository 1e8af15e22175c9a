"""The platform admin's SIP page: whether calling is on, and the trunk for landline calls."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from entryway.core.access import admin_required
from entryway.sip import services
from entryway.sip.forms import SipTrunkForm
from entryway.sip.models import SipAccount, SipTrunk


@admin_required
def admin_sip(request, pk: int | None = None):
    trunk = get_object_or_404(SipTrunk, pk=pk) if pk else SipTrunk()
    form = SipTrunkForm(request.POST or None, instance=trunk)
    if request.method == "POST" and form.is_valid():
        services.sip_trunk_save(acting_user=request.user, trunk=trunk, data=form.cleaned_data)
        messages.success(request, _("SIP trunk saved."))
        return redirect("sip:admin")
    context = {
        "form": form,
        "editing": trunk.pk is not None,
        "trunks": SipTrunk.objects.all(),
        "sip_enabled": settings.SIP_ENABLED,
        "sip_server": settings.SIP_SERVER,
        "sip_domain": settings.SIP_DOMAIN,
        "accounts_active": SipAccount.objects.filter(is_active=True).count(),
    }
    return render(request, "sip/admin.html", context)


@admin_required
def admin_trunk_delete(request, pk: int):
    trunk = get_object_or_404(SipTrunk, pk=pk)
    if request.method == "POST":
        services.sip_trunk_delete(acting_user=request.user, trunk=trunk)
        messages.success(request, _("SIP trunk deleted."))
        return redirect("sip:admin")
    return render(request, "includes/confirm_delete.html", {
        "object_label": str(trunk),
        "consequences": [_("Landline calls stop until another trunk is enabled.")],
        "cancel_url": "/admin-portal/sip/",
    })
