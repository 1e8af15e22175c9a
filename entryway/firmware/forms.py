from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from entryway.devices.models import DeviceModel


class FirmwareUploadForm(forms.Form):
    device_models = forms.ModelMultipleChoiceField(
        label=_("Model"), queryset=DeviceModel.objects.order_by("name"), widget=forms.CheckboxSelectMultiple,
        help_text=_("The device models this firmware is for."))
    version = forms.CharField(label=_("Version"), max_length=32,
                              widget=forms.TextInput(attrs={"placeholder": "29.30.2.805"}))
    version_log = forms.CharField(label=_("Version Log"), required=False, max_length=5000, widget=forms.Textarea)
    file = forms.FileField(label=_("Firmware file"))


class TimeMode:
    NOW = "now"
    SPECIFIC = "specific"


class StrategyForm(forms.Form):
    """Parses the Update Strategy Creation form; the service decides what is allowed."""

    device_model = forms.IntegerField(label=_("Model"), required=False)
    firmware = forms.IntegerField(label=_("Version"), required=False)
    all_devices = forms.BooleanField(required=False)
    time_mode = forms.ChoiceField(choices=[(TimeMode.NOW, _("Upgrade Right Now")),
                                           (TimeMode.SPECIFIC, _("Specific Time"))], initial=TimeMode.NOW)
    scheduled_at = forms.DateTimeField(label=_("Upgrade Time"), required=False,
                                       input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
    waves = forms.CharField(label=_("Waves (%)"), required=False, max_length=60)
    success_threshold = forms.IntegerField(label=_("Success threshold (%)"), required=False, min_value=1,
                                           max_value=100)
    error_threshold = forms.IntegerField(label=_("Error threshold (%)"), required=False, min_value=0, max_value=100)

    def device_ids(self) -> list[int]:
        out = []
        for raw in self.data.getlist("device_ids") if hasattr(self.data, "getlist") else []:
            try:
                out.append(int(raw))
            except (TypeError, ValueError):
                continue
        return out

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        success = data.get("success_threshold")
        return {
            "device_model": data.get("device_model"),
            "firmware": data.get("firmware"),
            "all_devices": bool(data.get("all_devices")),
            "device_ids": self.device_ids(),
            "upgrade_right_now": data.get("time_mode") == TimeMode.NOW,
            "scheduled_at": data.get("scheduled_at"),
            "waves": data.get("waves") or None,
            "success_threshold": 80 if success is None else success,
            "error_threshold": data.get("error_threshold"),
        }
