from __future__ import annotations

import os

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from entryway.core.access import admin_required, get_visible_or_404, installer_required, role_required
from entryway.core.pagination import paginate
from entryway.devices.models import DeviceModel
from entryway.firmware import download, selectors, services
from entryway.firmware.choices import StatusFilter, TargetState
from entryway.firmware.forms import FirmwareUploadForm, StrategyForm, TimeMode
from entryway.firmware.models import Firmware, UpdateStrategy

portal_required = role_required("installer", "distributor", "admin")


def _int_or_none(raw):
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- Firmware module

@installer_required
def firmware_list(request):
    model_id = _int_or_none(request.GET.get("model"))
    model = DeviceModel.objects.filter(pk=model_id).first() if model_id else None
    pageinfo = paginate(request, selectors.firmware_list(request.user, model=model))
    return render(request, "firmware/firmware_list.html", {
        "pageinfo": pageinfo, "models": selectors.catalog_models(), "model": model,
    })


@portal_required
def firmware_detail(request, pk: int):
    firmware = get_visible_or_404(Firmware.objects.prefetch_related("device_models"), request.user, pk=pk)
    return render(request, "firmware/firmware_detail.html", {"firmware": firmware})


def firmware_file(request, token: str, filename: str):
    """A device downloads the firmware here: the signed token is its permission (no session).

    Usually answered before Django (entryway.firmware.download.wsgi_download); the same answers here.
    """
    firmware_id = services.firmware_from_token(token)
    found = download.locate(firmware_id) if firmware_id else None
    if found is None or found[0][0] != filename:
        raise Http404("No such firmware file.")
    info = found[0]
    try:
        handle = open(download.stored_path(info), "rb")  # noqa: SIM115 (FileResponse closes it)
        size = os.fstat(handle.fileno()).st_size
    except OSError:
        raise Http404("No such firmware file.")
    status, span = download.plan(info, size, request.method, request.headers.get("If-None-Match", ""),
                                 request.headers.get("Range", ""), request.headers.get("If-Range", ""))
    if status == 200:
        response = FileResponse(handle, as_attachment=True, filename=info[0],
                                content_type="application/octet-stream")
    else:
        body = b""
        if status == 206:
            handle.seek(span[0])
            body = handle.read(span[1] - span[0] + 1)
        handle.close()
        response = HttpResponse(body, status=status)
    for name, value in download.headers_for(info, size, status, span):
        if name != "Content-Disposition" or status != 200:
            response[name] = value
    if status == 304:
        del response["Content-Type"]
    return response


# --------------------------------------------------------------------------- admin portal: catalog

@admin_required
def admin_firmware_list(request):
    pageinfo = paginate(request, selectors.firmware_list(request.user))
    return render(request, "firmware/admin_firmware_list.html", {"pageinfo": pageinfo})


@admin_required
@require_http_methods(["GET", "POST"])
def admin_firmware_upload(request):
    form = FirmwareUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            firmware = services.firmware_upload(
                acting_user=request.user, file=form.cleaned_data["file"], version=form.cleaned_data["version"],
                device_models=form.cleaned_data["device_models"], version_log=form.cleaned_data["version_log"])
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            messages.success(request, _("Firmware %(version)s uploaded.") % {"version": firmware.version})
            return redirect("firmware:admin_list")
    return render(request, "firmware/admin_firmware_upload.html", {"form": form})


@admin_required
@require_http_methods(["GET", "POST"])
def admin_firmware_delete(request, pk: int):
    firmware = get_visible_or_404(Firmware, request.user, pk=pk)
    used = firmware.strategies.count()
    if request.method == "POST":
        try:
            services.firmware_delete(acting_user=request.user, firmware=firmware)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Firmware %(version)s deleted.") % {"version": firmware.version})
        return redirect("firmware:admin_list")
    consequences = [_("Its file is removed; installers can no longer choose it.")]
    if used:
        consequences = [_("It is used by update strategies and cannot be deleted.")]
    return render(request, "includes/confirm_delete.html", {
        "object_label": firmware.version, "consequences": consequences,
        "cancel_url": reverse("firmware:admin_list"),
    })


# --------------------------------------------------------------------------- Update module: list and detail

@installer_required
def strategy_list(request):
    status = request.GET.get("status", StatusFilter.ALL)
    if status not in StatusFilter.values:
        status = StatusFilter.ALL
    pageinfo = paginate(request, selectors.strategy_list(request.user, status=status))
    return render(request, "firmware/strategy_list.html", {
        "pageinfo": pageinfo, "status": status, "filters": StatusFilter.choices,
    })


def _detail_context(request, strategy: UpdateStrategy) -> dict:
    state = request.GET.get("state", "")
    if state not in TargetState.values:
        state = ""
    q = (request.GET.get("q") or "").strip()[:40]
    counts = services.strategy_counts(strategy)
    pageinfo = paginate(request, selectors.strategy_targets(strategy, state=state, q=q),
                        count=counts["total"] if not (state or q) else None)
    return {
        "strategy": strategy, "counts": counts, "pageinfo": pageinfo, "state": state, "q": q,
        "states": TargetState.choices,
        "state_counts": [(value, label, counts[value]) for value, label in TargetState.choices],
        "percent": round(100 * counts["final"] / counts["total"]) if counts["total"] else 100,
    }


@installer_required
def strategy_detail(request, pk: int):
    strategy = get_visible_or_404(UpdateStrategy.objects.select_related("device_model", "firmware"),
                                  request.user, pk=pk)
    return render(request, "firmware/strategy_detail.html", _detail_context(request, strategy))


@installer_required
def strategy_progress(request, pk: int):
    """The counts, progress bar and device table alone (htmx refresh)."""
    strategy = get_visible_or_404(UpdateStrategy.objects.select_related("device_model", "firmware"),
                                  request.user, pk=pk)
    return render(request, "firmware/includes/strategy_progress.html", _detail_context(request, strategy))


# --------------------------------------------------------------------------- Update module: create and edit

def _choices_context(request, data, *, strategy: UpdateStrategy | None = None) -> dict:
    """Model, version and device choices for the form, from what was chosen so far."""
    user = request.user
    models = list(selectors.models_for(user))
    model_id = _int_or_none(data.get("device_model"))
    model = next((m for m in models if m.pk == model_id), None)
    if model is None and len(models) == 1:
        model = models[0]
    q = (data.get("q") or "").strip()[:64]
    selected = {i for i in (_int_or_none(v) for v in data.getlist("device_ids")) if i}
    devices, matching = selectors.device_candidates(user, model, q=q)
    shown = {d.pk for d in devices}
    # Ticked devices outside the current search stay ticked (hidden inputs); the service checks them.
    kept = sorted(selected - shown) if model is not None else []
    total = selectors.device_candidates(user, model)[1] if q else matching
    return {
        "models": models, "model": model, "versions": list(selectors.firmware_for_model(model)),
        "firmware_id": _int_or_none(data.get("firmware")), "q": q, "devices": devices, "matching": matching,
        "limited": matching > len(devices), "kept": kept, "selected": selected, "model_total": total,
        "all_devices": data.get("all_devices") in ("on", "true", "1", True),
        "selected_count": len(kept) + sum(1 for d in devices if d.pk in selected),
    }


def _initial_data(strategy: UpdateStrategy):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data["device_model"] = str(strategy.device_model_id)
    data["firmware"] = str(strategy.firmware_id)
    data.setlist("device_ids", [str(i) for i in strategy.targets.values_list("device_id", flat=True) if i])
    data["time_mode"] = TimeMode.NOW if strategy.upgrade_right_now else TimeMode.SPECIFIC
    if not strategy.upgrade_right_now:
        data["scheduled_at"] = timezone.localtime(strategy.scheduled_at).strftime("%Y-%m-%dT%H:%M")
    if strategy.is_staged:
        data["waves"] = ", ".join(str(w) for w in strategy.waves)
        data["success_threshold"] = str(strategy.success_threshold)
    if strategy.error_threshold is not None:
        data["error_threshold"] = str(strategy.error_threshold)
    return data


def _strategy_form(request, strategy: UpdateStrategy | None):
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = request.POST
        if data.get("action") != "refresh":
            form = StrategyForm(data)
            if not form.is_valid():
                errors = {k: list(v) for k, v in form.errors.items()}
            else:
                kwargs = form.service_kwargs()
                if kwargs["device_model"] is None:
                    kwargs["device_model"] = ""
                try:
                    if strategy is None:
                        saved = services.strategy_create(acting_user=request.user, **kwargs)
                        messages.success(request, _("Update strategy created."))
                    else:
                        saved = services.strategy_update(acting_user=request.user, strategy=strategy, **kwargs)
                        messages.success(request, _("Update strategy saved."))
                except ValidationError as exc:
                    errors = exc.message_dict
                else:
                    return redirect("firmware:strategy_detail", pk=saved.pk)
    elif strategy is not None:
        data = _initial_data(strategy)
    else:
        data = request.GET
    time_mode = data.get("time_mode") or TimeMode.NOW
    context = {
        "strategy": strategy, "errors": errors, "non_field_errors": errors.get("__all__", []),
        "time_mode": time_mode, "scheduled_at": data.get("scheduled_at", ""),
        "waves": data.get("waves", ""), "success_threshold": data.get("success_threshold", "80"),
        "error_threshold": data.get("error_threshold", ""),
        "time_zone": timezone.get_current_timezone_name(),
        "min_time": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        **_choices_context(request, data, strategy=strategy),
    }
    return render(request, "firmware/strategy_form.html", context, status=422 if errors else 200)


@installer_required
@require_http_methods(["GET", "POST"])
def strategy_create(request):
    return _strategy_form(request, None)


@installer_required
@require_http_methods(["GET", "POST"])
def strategy_edit(request, pk: int):
    strategy = get_visible_or_404(UpdateStrategy.objects.select_related("device_model", "firmware"),
                                  request.user, pk=pk)
    if not strategy.is_pending:
        messages.error(request, services._not_editable_reason(strategy))
        return redirect("firmware:strategy_detail", pk=strategy.pk)
    return _strategy_form(request, strategy)


@installer_required
def strategy_choices(request):
    """The version list and device table for the chosen model and search (htmx)."""
    return render(request, "firmware/includes/strategy_choices.html", _choices_context(request, request.GET))


@installer_required
@require_http_methods(["GET", "POST"])
def strategy_delete(request, pk: int):
    strategy = get_visible_or_404(UpdateStrategy, request.user, pk=pk)
    if request.method == "POST":
        try:
            services.strategy_delete(acting_user=request.user, strategy=strategy)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("firmware:strategy_detail", pk=strategy.pk)
        messages.success(request, _("Update record deleted."))
        return redirect("firmware:strategy_list")
    if strategy.is_pending:
        consequences = [_("No device will be upgraded by it.")]
    elif strategy.is_running:
        consequences = [_("It is still running: cancel it first.")]
    else:
        consequences = [_("The record leaves the Update list; each device keeps its upgrade history.")]
    return render(request, "includes/confirm_delete.html", {
        "object_label": f"{strategy.version} ({strategy.device_label})", "consequences": consequences,
        "cancel_url": reverse("firmware:strategy_detail", args=[strategy.pk]),
    })


def _control(name: str, call, done_message: str):
    @installer_required
    @require_POST
    def view(request, pk: int):
        strategy = get_visible_or_404(UpdateStrategy, request.user, pk=pk)
        try:
            result = call(acting_user=request.user, strategy=strategy)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, str(done_message) % {"n": result if isinstance(result, int) else 0})
        return redirect("firmware:strategy_detail", pk=strategy.pk)

    view.__name__ = f"strategy_{name}"
    return view


strategy_pause = _control("pause", services.strategy_pause, gettext_lazy("Update strategy paused."))
strategy_resume = _control("resume", services.strategy_resume, gettext_lazy("Update strategy resumed."))
strategy_cancel = _control("cancel", services.strategy_cancel, gettext_lazy("Update strategy cancelled."))
strategy_retry = _control("retry", services.strategy_retry, gettext_lazy("%(n)d failed devices will be retried."))
