from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from entryway.core.access import (
    ADMIN,
    DISTRIBUTOR,
    INSTALLER,
    get_visible_or_404,
    installer_required,
    role_required,
)
from entryway.core.pagination import paginate
from entryway.dashboard import services
from entryway.dashboard.jobs import job_refresh
from entryway.dashboard.models import Alert, AlertPreference, Job
from entryway.dashboard.selectors import dashboard_for


@installer_required
def home(request):
    return render(request, "dashboard/home.html", {**dashboard_for(request.user), "sip_enabled": settings.SIP_ENABLED})


class AlertPreferenceForm(forms.Form):
    email_enabled = forms.BooleanField(label=gettext_lazy("Also send alerts by e-mail"), required=False)
    device_offline_minutes = forms.IntegerField(label=gettext_lazy("Device offline for longer than (minutes)"),
                                                min_value=5, max_value=10080)
    expiring_days = forms.IntegerField(label=gettext_lazy("Subscription expiring within (days)"), min_value=1,
                                       max_value=90)


@installer_required
def alerts(request):
    pref = AlertPreference.objects.filter(installer=request.user).first() or services.DEFAULT_PREFERENCE
    form = AlertPreferenceForm(request.POST or None, initial={
        "email_enabled": pref.email_enabled, "device_offline_minutes": pref.device_offline_minutes,
        "expiring_days": pref.expiring_days})
    if request.method == "POST" and form.is_valid():
        services.alert_preference_update(acting_user=request.user, **form.cleaned_data)
        messages.success(request, _("Alert settings saved."))
        return redirect("dashboard:alerts")
    show = request.GET.get("show", "open")
    qs = Alert.objects.filter(installer=request.user)
    if show == "open":
        qs = qs.filter(cleared_at__isnull=True)
    return render(request, "dashboard/alerts.html", {"form": form, "pageinfo": paginate(request, qs), "show": show})


# --------------------------------------------------------------------------- long operations

job_roles = role_required(INSTALLER, DISTRIBUTOR, ADMIN)


def _job(request, pk: int) -> Job:
    return job_refresh(get_visible_or_404(Job.objects.defer("data"), request.user, pk=pk))


@job_roles
def job_detail(request, pk: int):
    return render(request, "dashboard/job_detail.html", {"job": _job(request, pk)})


@job_roles
def job_progress(request, pk: int):
    """The progress alone, polled by htmx; a finished job reloads the page for its result."""
    job = _job(request, pk)
    response = render(request, "dashboard/includes/job_progress.html", {"job": job})
    if job.is_finished:
        response["HX-Refresh"] = "true"
    return response


@job_roles
def job_download(request, pk: int):
    job = get_visible_or_404(Job, request.user, pk=pk)
    if not job.is_finished or not job.file_name:
        raise Http404("Nothing to download yet.")
    response = HttpResponse(bytes(job.data), content_type=job.content_type or "application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{job.file_name}"'
    return response
