"""The resident portal: account status and expiry, family members, devices and cameras, contacts."""
from __future__ import annotations

from django.shortcuts import render

from entryway.core.access import resident_required
from entryway.devices.models import IntercomDevice, ThirdPartyCamera
from entryway.portals.views.common import safe_url
from entryway.residents.models import FamilyMember, Resident


def _pays_by_end_user(installer) -> bool:
    """Whether the installer's charge mode lets the household pay activation and renewal itself."""
    from entryway.billing.choices import ChargeMode
    from entryway.billing.services import billing_setting_for

    return billing_setting_for(installer).charge_mode == ChargeMode.END_USER


@resident_required
def resident_home(request):
    user = request.user
    household = Resident.objects.visible_to(user).select_related("installer").first()
    is_host = household is not None and household.account_id == user.pk
    context = {"household": household, "is_host": is_host, "family": [], "devices": [], "cameras": [],
               "billing_url": None}
    if household is not None:
        if is_host:
            context["family"] = FamilyMember.objects.visible_to(user).filter(resident=household).only(
                "id", "name", "email", "mobile_number", "personal_sip")
        else:
            context["member"] = FamilyMember.objects.visible_to(user).filter(account=user).first()
        context["devices"] = IntercomDevice.objects.visible_to(user).select_related("device_model").only(
            "id", "mac", "location", "last_seen_at", "device_model__name", "device_model__device_type")
        context["cameras"] = ThirdPartyCamera.objects.visible_to(user).only("id", "location", "link_device_id")
        context["installer"] = household.installer
    context["inbox_url"] = safe_url("messaging:inbox")
    if household is not None and is_host and _pays_by_end_user(household.installer):
        context["billing_url"] = safe_url("billing:resident_billing")
    return render(request, "portals/resident/home.html", context)
