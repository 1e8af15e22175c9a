"""The Device module, a user's Intercom Devices / Third-party Devices tabs, and the MAC Library."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.core.access import distributor_required, get_visible_or_404, installer_required, role_required
from entryway.core.pagination import paginate
from entryway.devices import selectors, services
from entryway.devices.choices import ImportRowResult
from entryway.devices.forms import (
    DTMF_CHOICES,
    CameraForm,
    DeviceDeleteForm,
    DeviceForm,
    MacAssignForm,
    MacForm,
    MacImportForm,
    apply_service_errors,
)
from entryway.devices.models import IntercomDevice, MacImport, MacLibraryEntry, ThirdPartyCamera
from entryway.residents.models import Resident

mac_library_roles = role_required(Role.INSTALLER, Role.DISTRIBUTOR)


def _next_url(request, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return default


# ---------------------------------------------------------------------------------------------
# Device module


@installer_required
@require_GET
def device_list(request):
    q = selectors.clean_search(request.GET.get("q"))
    pageinfo = paginate(request, selectors.device_list(request.user, q=q))
    return render(request, "devices/device_module.html", {
        "pageinfo": pageinfo, "q": q, "tab": "intercom", "next": request.get_full_path(),
    })


@installer_required
@require_GET
def camera_list(request):
    q = selectors.clean_search(request.GET.get("q"))
    pageinfo = paginate(request, selectors.camera_list(request.user, q=q))
    return render(request, "devices/device_module.html", {
        "pageinfo": pageinfo, "q": q, "tab": "third", "next": request.get_full_path(),
    })


# ---------------------------------------------------------------------------------------------
# A user's devices


@installer_required
@require_GET
def resident_devices(request, resident_pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=resident_pk)
    q = selectors.clean_search(request.GET.get("q"))
    pageinfo = paginate(request, selectors.device_list(request.user, q=q, owner=resident))
    return render(request, "devices/resident_devices.html", {
        "resident": resident, "pageinfo": pageinfo, "q": q, "tab": "intercom", "next": request.get_full_path(),
    })


@installer_required
@require_GET
def resident_cameras(request, resident_pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=resident_pk)
    q = selectors.clean_search(request.GET.get("q"))
    pageinfo = paginate(request, selectors.camera_list(request.user, q=q, owner=resident))
    return render(request, "devices/resident_devices.html", {
        "resident": resident, "pageinfo": pageinfo, "q": q, "tab": "third", "next": request.get_full_path(),
        "refusal": None if resident.premium_plan else _(
            "Third-party cameras need the Premium Plan: turn on %(name)s's Premium Plan first.")
        % {"name": resident.name},
    })


def _device_form_page(request, form, resident, device=None, next_url=""):
    return render(request, "devices/device_form.html", {
        "form": form, "resident": resident, "device": device, "next": next_url,
        "free_macs": selectors.free_macs(resident.installer), "dtmf_choices": DTMF_CHOICES,
    })


@installer_required
@require_http_methods(["GET", "POST"])
def device_create(request, resident_pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=resident_pk)
    next_url = _next_url(request, reverse("devices:resident_devices", args=[resident.pk]))
    if request.method == "POST":
        form = DeviceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                device = services.device_create(
                    acting_user=request.user, owner=resident, device_model=data["device_model"], mac=data["mac"],
                    location=data["location"], relays=form.relays(), security_relay=data["security_relay"])
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Device %(mac)s added with SIP number %(sip)s.")
                                 % {"mac": device.mac, "sip": device.sip_number})
                return redirect(next_url)
    else:
        form = DeviceForm(initial={"mac": request.GET.get("mac", "")[:40]})
    return _device_form_page(request, form, resident, next_url=next_url)


@installer_required
@require_http_methods(["GET", "POST"])
def device_edit(request, pk: int):
    device = get_visible_or_404(IntercomDevice.objects.select_related("owner", "device_model"), request.user, pk=pk)
    next_url = _next_url(request, reverse("devices:resident_devices", args=[device.owner_id]))
    if request.method == "POST":
        form = DeviceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.device_update(
                    acting_user=request.user, device=device, device_model=data["device_model"], mac=data["mac"],
                    location=data["location"], relays=form.relays(), security_relay=data["security_relay"])
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Device saved."))
                return redirect(next_url)
    else:
        form = DeviceForm(initial=DeviceForm.initial_for(device))
    return _device_form_page(request, form, device.owner, device=device, next_url=next_url)


@installer_required
@require_http_methods(["GET", "POST"])
def device_delete(request, pk: int):
    device = get_visible_or_404(IntercomDevice.objects.select_related("owner", "device_model"), request.user, pk=pk)
    next_url = _next_url(request, reverse("devices:list"))
    form = DeviceDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.device_delete(acting_user=request.user, device=device,
                                   delete_mac=form.cleaned_data["delete_mac"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Device %(mac)s deleted.") % {"mac": device.mac})
        return redirect(next_url)
    return render(request, "devices/device_confirm_delete.html", {
        "object_label": f"{device.mac} ({device.location})", "cancel_url": next_url, "next": next_url, "form": form,
        "consequences": [
            _("Its SIP number %(sip)s stops registering and is never given again.") % {"sip": device.sip_number},
            _("Its MAC %(mac)s is unbound and stays in the MAC Library, unless you tick the box below.")
            % {"mac": device.mac},
        ],
    })


# ---------------------------------------------------------------------------------------------
# Third-party cameras


def _camera_form_page(request, form, resident, camera=None, next_url=""):
    refusal = None
    if camera is None and not resident.premium_plan and not form.errors:
        refusal = _("Third-party cameras need the Premium Plan: turn on %(name)s's Premium Plan first.") % {
            "name": resident.name}
    return render(request, "devices/camera_form.html", {
        "form": form, "resident": resident, "camera": camera, "next": next_url, "refusal": refusal,
    })


@installer_required
@require_http_methods(["GET", "POST"])
def camera_create(request, resident_pk: int):
    resident = get_visible_or_404(Resident, request.user, pk=resident_pk)
    next_url = _next_url(request, reverse("devices:resident_cameras", args=[resident.pk]))
    if request.method == "POST":
        form = CameraForm(request.POST, owner=resident)
        if form.is_valid():
            try:
                services.camera_create(acting_user=request.user, owner=resident, **form.service_data())
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Camera added."))
                return redirect(next_url)
    else:
        form = CameraForm(owner=resident)
    return _camera_form_page(request, form, resident, next_url=next_url)


@installer_required
@require_http_methods(["GET", "POST"])
def camera_edit(request, pk: int):
    camera = get_visible_or_404(ThirdPartyCamera.objects.select_related("owner"), request.user, pk=pk)
    next_url = _next_url(request, reverse("devices:resident_cameras", args=[camera.owner_id]))
    if request.method == "POST":
        form = CameraForm(request.POST, owner=camera.owner, editing=True)
        if form.is_valid():
            try:
                services.camera_update(acting_user=request.user, camera=camera, **form.service_data())
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Camera saved."))
                return redirect(next_url)
    else:
        form = CameraForm(owner=camera.owner, editing=True, initial={
            "location": camera.location, "rtsp_url": camera.rtsp_url, "username": camera.username,
            "link_device": camera.link_device_id})
    return _camera_form_page(request, form, camera.owner, camera=camera, next_url=next_url)


@installer_required
@require_http_methods(["GET", "POST"])
def camera_delete(request, pk: int):
    camera = get_visible_or_404(ThirdPartyCamera.objects.select_related("owner"), request.user, pk=pk)
    next_url = _next_url(request, reverse("devices:camera_list"))
    if request.method == "POST":
        services.camera_delete(acting_user=request.user, camera=camera)
        messages.success(request, _("Camera “%(location)s” deleted.") % {"location": camera.location})
        return redirect(next_url)
    return render(request, "includes/confirm_delete.html", {
        "object_label": _("camera “%(location)s” of %(owner)s") % {"location": camera.location,
                                                                     "owner": camera.owner.name},
        "cancel_url": next_url, "consequences": [],
    })


# ---------------------------------------------------------------------------------------------
# MAC Library (installer) and the distributor's MAC register


def _library_url(user) -> str:
    return reverse("devices:distributor_macs" if user.role == Role.DISTRIBUTOR else "devices:mac_list")


@installer_required
@require_GET
def mac_list(request):
    q = selectors.clean_search(request.GET.get("q"))
    bound = request.GET.get("bound", "")
    if bound not in ("bound", "free"):
        bound = ""
    pageinfo = paginate(request, selectors.mac_list(request.user, q=q, bound=bound))
    return render(request, "devices/mac_list.html", {
        "pageinfo": pageinfo, "q": q, "bound": bound, "next": request.get_full_path(),
        "recent_imports": MacImport.objects.visible_to(request.user).defer("data", "report")[:3],
    })


@mac_library_roles
@require_http_methods(["GET", "POST"])
def mac_create(request):
    back = _library_url(request.user)
    form = MacForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.mac_add(acting_user=request.user, mac=form.cleaned_data["mac"])
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("%(mac)s added.") % {"mac": entry.mac})
            return redirect(back)
    return render(request, "devices/mac_form.html", {"form": form, "back": back})


@mac_library_roles
@require_http_methods(["GET", "POST"])
def mac_import(request):
    back = _library_url(request.user)
    form = MacImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        limit = settings.MAC_IMPORT_MAX_MB * 1024 * 1024
        if upload.size > limit:
            form.add_error("file", _("The file is larger than %(n)d MB.") % {"n": settings.MAC_IMPORT_MAX_MB})
        else:
            data = upload.read()
            try:
                job = services.mac_import_start(acting_user=request.user, data=data, file_name=upload.name)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                if len(data) <= settings.MAC_IMPORT_INLINE_MAX_BYTES:
                    services.mac_import_run(import_id=job.pk)
                else:
                    from entryway.devices.tasks import mac_import_task

                    job_id = job.pk
                    transaction.on_commit(lambda: mac_import_task(job_id))
                return redirect("devices:import_detail", pk=job.pk)
    return render(request, "devices/mac_import.html", {"form": form, "back": back})


@mac_library_roles
@require_GET
def mac_template(request):
    response = HttpResponse(
        services.import_template_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="MAC_template.xlsx"'
    return response


def _import_context(request, job):
    result = request.GET.get("result", "")
    if result not in ImportRowResult.values:
        result = ""
    rows = job.report if job.is_finished else []
    if result:
        rows = [r for r in rows if r[2] == result]
    return {"job": job, "pageinfo": paginate(request, rows, default_per_page=50), "result": result,
            "results": ImportRowResult.choices, "back": _library_url(request.user)}


@mac_library_roles
@require_GET
def import_detail(request, pk: int):
    job = get_visible_or_404(MacImport.objects.defer("data"), request.user, pk=pk)
    return render(request, "devices/import_detail.html", _import_context(request, job))


@mac_library_roles
@require_GET
def import_progress(request, pk: int):
    """The progress bar alone, polled by htmx; a finished import reloads the page for its report."""
    job = get_visible_or_404(MacImport.objects.defer("data", "report"), request.user, pk=pk)
    response = render(request, "devices/includes/import_progress.html", {"job": job})
    if job.is_finished:
        response["HX-Refresh"] = "true"
    return response


@mac_library_roles
@require_http_methods(["GET", "POST"])
def mac_remove(request, pk: int):
    entry = get_visible_or_404(MacLibraryEntry, request.user, pk=pk)
    back = _next_url(request, _library_url(request.user))
    if request.method == "POST":
        try:
            services.mac_remove(acting_user=request.user, entry=entry)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("%(mac)s removed from the MAC Library.") % {"mac": entry.mac})
        return redirect(back)
    device = IntercomDevice.objects.filter(mac_entry=entry).select_related("owner").first()
    return render(request, "devices/mac_confirm_remove.html", {
        "entry": entry, "device": device, "cancel_url": back, "next": back,
    })


@distributor_required
@require_GET
def distributor_macs(request):
    q = selectors.clean_search(request.GET.get("q"))
    bound = request.GET.get("bound", "")
    if bound not in ("bound", "free"):
        bound = ""
    pageinfo = paginate(request, selectors.mac_list(request.user, q=q, bound=bound))
    installers = Account.objects.filter(role=Role.INSTALLER, parent=request.user).order_by("name", "username")
    return render(request, "devices/distributor_macs.html", {
        "pageinfo": pageinfo, "q": q, "bound": bound, "form": MacAssignForm(installers=installers),
        "next": request.get_full_path(),
        "recent_imports": MacImport.objects.visible_to(request.user).defer("data", "report")[:3],
    })


@distributor_required
@require_POST
def distributor_mac_assign(request):
    installers = Account.objects.filter(role=Role.INSTALLER, parent=request.user)
    form = MacAssignForm(request.POST, installers=installers)
    back = _next_url(request, reverse("devices:distributor_macs"))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(back)
    installer = installers.get(pk=form.cleaned_data["installer"])
    try:
        moved = services.mac_assign(acting_user=request.user, macs=form.cleaned_data["macs"], installer=installer)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(n)d MAC(s) assigned to %(installer)s.")
                         % {"n": moved, "installer": installer.display_name})
    return redirect(back)
