"""Portal pages of the device protocol: AutoP credentials, Batch AutoP, a device's info and Settings."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from entryway.core.access import (
    ADMIN,
    DISTRIBUTOR,
    INSTALLER,
    get_visible_or_404,
    installer_required,
    require_editable,
    role_required,
)
from entryway.core.pagination import paginate
from entryway.deviceapi import services
from entryway.deviceapi.choices import OPEN_STATUSES
from entryway.deviceapi.forms import BatchAutopForm, DeviceSettingsForm, PickerFilterForm
from entryway.deviceapi.models import DeviceAction
from entryway.devices.models import IntercomDevice

RECENT_ACTIONS = 10


def _apply_errors(form, exc: ValidationError, mapping: dict[str, str] | None = None) -> None:
    mapping = mapping or {}
    for field, errors in exc.message_dict.items():
        target = mapping.get(field, field)
        form.add_error(target if target in form.fields else None, errors)


# --- Setting → AutoP ----------------------------------------------------------------------------

@installer_required
def autop_credentials(request):
    credential = services.autop_credential_get_or_create(installer=request.user)
    return render(request, "deviceapi/autop_credentials.html", {
        "credential": credential,
        "autop_url": settings.PUBLIC_BASE_URL.rstrip("/") + "/autop/",
    })


@installer_required
@require_POST
def autop_credentials_rotate(request):
    services.autop_credential_rotate(acting_user=request.user, installer=request.user)
    messages.success(request, _("New AutoP password made. Devices already provisioned keep working."))
    return redirect("deviceapi:autop_credentials")


# --- User → Intercom Devices → AutoP ------------------------------------------------------------

def _picker(request):
    flt = PickerFilterForm(request.GET or None)
    qs = (IntercomDevice.objects.visible_to(request.user).select_related("device_model")
          .only("id", "mac", "location", "device_model__name", "device_model__device_type")
          .order_by("mac"))
    if flt.is_valid():
        if flt.cleaned_data["type"]:
            qs = qs.filter(device_model__device_type=flt.cleaned_data["type"])
        q = flt.cleaned_data["q"].replace(":", "").replace("-", "").strip().upper()
        if q:
            qs = qs.filter(mac__icontains=q)
    return flt, paginate(request, qs)


@installer_required
@require_http_methods(["GET", "POST"])
def batch_autop(request):
    selected: list[int] = []
    if request.method == "POST":
        form = BatchAutopForm(request.POST)
        raw_ids = request.POST.getlist("devices")
        selected = [int(x) for x in dict.fromkeys(raw_ids) if x.isdigit()]
        if form.is_valid():
            since = timezone.now()
            try:
                count = services.autop_batch_apply(acting_user=request.user, mode=form.cleaned_data["mode"],
                                                   commands=form.cleaned_data["commands"], device_ids=raw_ids)
            except ValidationError as exc:
                _apply_errors(form, exc, {"devices": "__all__"})
            else:
                if form.cleaned_data["mode"] == services.ONE_TIME:
                    from entryway.dashboard.job_kinds import autop_batch_watch

                    messages.success(request, _("One Time AutoP sent to %(n)s device(s).") % {"n": count})
                    # Its page shows the devices confirming it, live.
                    job = autop_batch_watch(acting_user=request.user, device_ids=selected, since=since)
                    return redirect("dashboard:job_detail", pk=job.pk)
                else:
                    messages.success(request, _("Regular AutoP saved for %(n)s device(s).") % {"n": count})
                return redirect("deviceapi:batch_autop")
    else:
        form = BatchAutopForm()
    flt, pageinfo = _picker(request)
    selected_macs = dict(IntercomDevice.objects.visible_to(request.user).filter(pk__in=selected[:1000])
                         .values_list("pk", "mac")) if selected else {}
    return render(request, "deviceapi/batch_autop.html", {
        "form": form, "filter": flt, "pageinfo": pageinfo, "selected": selected_macs,
        "limit": settings.AUTOP_BATCH_MAX_DEVICES,
    }, status=400 if request.method == "POST" else 200)


# --- Device Info and Settings (remote maintenance) ----------------------------------------------

viewer_roles = role_required(INSTALLER, DISTRIBUTOR, ADMIN)


def _device(request, pk):
    qs = IntercomDevice.objects.select_related("owner", "device_model")
    return get_visible_or_404(qs, request.user, pk=pk)


def _actions(device):
    return list(DeviceAction.objects.filter(device=device).order_by("-created_at", "-id")[:RECENT_ACTIONS])


def uptime_label(device) -> str | None:
    """The reported uptime, moved on by the time since the last check-in while the device is online."""
    if device.uptime_seconds is None or not device.is_online:
        return None
    seconds = int(device.uptime_seconds + (timezone.now() - device.last_seen_at).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return _("%(d)s d %(h)s h %(m)s min") % {"d": days, "h": hours, "m": minutes}


def _info_context(request, device, form):
    actions = _actions(device)
    return {
        "device": device, "form": form, "actions": actions, "uptime": uptime_label(device),
        "polling": any(a.status in OPEN_STATUSES for a in actions),
        "can_edit": request.user.role in (INSTALLER, ADMIN) and (
            request.user.role == ADMIN or device.installer_id == request.user.pk),
    }


@viewer_roles
@require_http_methods(["GET", "POST"])
def device_info(request, pk):
    device = _device(request, pk)
    initial = {"connect_type": device.connect_type, "autop_commands": device.autop_commands}
    if request.method == "POST":
        require_editable(request.user, device)
        form = DeviceSettingsForm(request.POST, initial=initial)
        if form.is_valid():
            try:
                services.device_settings_update(acting_user=request.user, device=device, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Settings saved; the device applies them at its next provisioning."))
                return redirect("deviceapi:device_info", pk=device.pk)
        return render(request, "deviceapi/device_info.html", _info_context(request, device, form), status=400)
    return render(request, "deviceapi/device_info.html", _info_context(request, device, DeviceSettingsForm(initial=initial)))


@viewer_roles
def device_actions(request, pk):
    device = _device(request, pk)
    return render(request, "deviceapi/includes/device_actions.html", _info_context(request, device, None))


@viewer_roles
@require_POST
def device_reboot(request, pk):
    device = _device(request, pk)
    require_editable(request.user, device)
    services.device_reboot(acting_user=request.user, device=device)
    messages.success(request, _("Reboot sent to %(mac)s.") % {"mac": device.mac})
    return redirect("deviceapi:device_info", pk=device.pk)


@viewer_roles
@require_POST
def device_once_autop(request, pk):
    device = _device(request, pk)
    require_editable(request.user, device)
    form = DeviceSettingsForm(request.POST, initial={"connect_type": device.connect_type,
                                                     "autop_commands": device.autop_commands})
    if form.is_valid():
        try:
            services.device_once_autop(acting_user=request.user, device=device,
                                       commands=form.cleaned_data["autop_commands"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Once Autop sent to %(mac)s.") % {"mac": device.mac})
            return redirect(reverse("deviceapi:device_info", kwargs={"pk": device.pk}))
    return render(request, "deviceapi/device_info.html", _info_context(request, device, form), status=400)
