"""The User module: user list, New / Edit / Delete user, Reset Password, family members."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from entryway.core.access import get_visible_or_404, installer_required
from entryway.core.pagination import paginate
from entryway.residents import selectors, services
from entryway.residents.choices import ActiveStatus
from entryway.residents.forms import FamilyMemberForm, ResidentForm, apply_service_errors
from entryway.residents.models import FamilyMember, Resident


@installer_required
def resident_list(request):
    q = selectors.clean_search(request.GET.get("q"))
    status = request.GET.get("status", "")
    if status not in ActiveStatus.values:
        status = ""
    qs = selectors.resident_list(request.user, q=q, status=status).only(*selectors.LIST_FIELDS)
    pageinfo = paginate(request, qs)
    return render(request, "residents/resident_list.html", {
        "pageinfo": pageinfo, "q": q, "status": status, "statuses": ActiveStatus.choices,
        "smart_home_url": request.user.smart_home_url,
    })


def _resident_form_page(request, form, resident=None):
    return render(request, "residents/resident_form.html", {"form": form, "resident": resident})


@installer_required
@require_http_methods(["GET", "POST"])
def resident_create(request):
    if request.method == "POST":
        form = ResidentForm(request.POST, installer=request.user)
        if form.is_valid():
            try:
                resident = services.resident_create(acting_user=request.user, installer=request.user,
                                                    **form.cleaned_data)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("User “%(name)s” added.") % {"name": resident.name})
                return redirect("residents:list")
    else:
        form = ResidentForm(installer=request.user)
    return _resident_form_page(request, form)


@installer_required
@require_http_methods(["GET", "POST"])
def resident_edit(request, pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=pk)
    if request.method == "POST":
        form = ResidentForm(request.POST, installer=request.user)
        if form.is_valid():
            try:
                resident = services.resident_update(acting_user=request.user, resident=resident,
                                                    **form.cleaned_data)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("User “%(name)s” saved.") % {"name": resident.name})
                return redirect("residents:list")
    else:
        form = ResidentForm(initial=ResidentForm.initial_for(resident), installer=request.user)
    return _resident_form_page(request, form, resident)


@installer_required
@require_http_methods(["GET", "POST"])
def resident_delete(request, pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=pk)
    if request.method == "POST":
        services.resident_delete(acting_user=request.user, resident=resident)
        messages.success(request, _("User “%(name)s” deleted.") % {"name": resident.name})
        return redirect("residents:list")
    device_count = resident.devices.count()
    camera_count = resident.cameras.count()
    consequences = [
        _("The user's account and app login are deleted."),
        _("Their family members (%(n)s) are deleted with their app logins.") % {"n": resident.family_member_count},
        _("Their intercom devices (%(n)s) are unbound from the user; the MAC addresses stay in your MAC Library "
          "and can be added again.") % {"n": device_count},
        _("Their third-party cameras (%(n)s) are deleted.") % {"n": camera_count},
        _("Their SIP numbers stop working and are never given to anyone else."),
    ]
    return render(request, "includes/confirm_delete.html", {
        "object_label": f"“{resident.name}” ({resident.family_sip})", "consequences": consequences,
        "cancel_url": reverse("residents:list"),
    })


@installer_required
@require_POST
def resident_reset_password(request, pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=pk)
    try:
        services.resident_reset_password(acting_user=request.user, resident=resident)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Password reset: %(email)s gets a link to set a new password.")
                         % {"email": resident.email})
    return redirect("residents:edit", pk=resident.pk)


@installer_required
def family_list(request, pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=pk)
    pageinfo = paginate(request, selectors.family_member_list(request.user, resident),
                        count=resident.family_member_count)
    return render(request, "residents/family_list.html", {
        "resident": resident, "pageinfo": pageinfo, "refusal": services.family_member_refusal(resident),
    })


def _family_form_page(request, form, resident, member=None):
    return render(request, "residents/family_form.html", {
        "form": form, "resident": resident, "member": member,
        "refusal": services.family_member_refusal(resident) if member is None else "",
    })


@installer_required
@require_http_methods(["GET", "POST"])
def family_create(request, pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=pk)
    if request.method == "POST":
        form = FamilyMemberForm(request.POST)
        if form.is_valid():
            try:
                member = services.family_member_create(acting_user=request.user, resident=resident,
                                                       **form.cleaned_data)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Family member “%(name)s” added.") % {"name": member.name})
                return redirect("residents:family_list", pk=resident.pk)
    else:
        form = FamilyMemberForm()
    return _family_form_page(request, form, resident)


def _member(request, pk: int, member_pk: int) -> FamilyMember:
    return get_visible_or_404(FamilyMember.objects.select_related("resident"), request.user,
                              pk=member_pk, resident_id=pk)


@installer_required
@require_http_methods(["GET", "POST"])
def family_edit(request, pk: int, member_pk: int):
    member = _member(request, pk, member_pk)
    if request.method == "POST":
        form = FamilyMemberForm(request.POST)
        if form.is_valid():
            try:
                member = services.family_member_update(acting_user=request.user, member=member, **form.cleaned_data)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Family member “%(name)s” saved.") % {"name": member.name})
                return redirect("residents:family_list", pk=member.resident_id)
    else:
        form = FamilyMemberForm(initial=FamilyMemberForm.initial_for(member))
    return _family_form_page(request, form, member.resident, member)


@installer_required
@require_http_methods(["GET", "POST"])
def family_delete(request, pk: int, member_pk: int):
    member = _member(request, pk, member_pk)
    if request.method == "POST":
        services.family_member_delete(acting_user=request.user, member=member)
        messages.success(request, _("Family member “%(name)s” deleted.") % {"name": member.name})
        return redirect("residents:family_list", pk=member.resident_id)
    consequences = [
        _("The family member's app login is deleted."),
        _("Their SIP number %(sip)s stops working and is never given to anyone else.") % {"sip": member.personal_sip},
    ]
    return render(request, "includes/confirm_delete.html", {
        "object_label": f"“{member.name}”", "consequences": consequences,
        "cancel_url": reverse("residents:family_list", args=[member.resident_id]),
    })
