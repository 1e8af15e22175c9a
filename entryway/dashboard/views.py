from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from entryway.core.access import installer_required
from entryway.core.pagination import paginate
from entryway.dashboard import services
from entryway.dashboard.models import Alert, AlertPreference
from entryway.dashboard.selectors import dashboard_for


@installer_required
def home(request):
    return render(request, "dashboard/home.html", dashboard_for(request.user))


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
