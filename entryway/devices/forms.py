"""Forms of the Device and MAC Library modules. They shape the input; the services decide what is valid."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from entryway.devices.choices import MAX_DTMF_LENGTH, MAX_RELAYS
from entryway.devices.selectors import catalog_grouped

ON, OFF = "on", "off"
DTMF_CHOICES = ["#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
LINK_DEVICE_NOTE = _(
    "Linked, the app's door phone camera icon switches between the door phone view and this camera's view, "
    "and the camera gets no icon of its own. Note: when linking the camera with door phones, make sure they "
    "are in the same local network (LAN)."
)
RTSP_FORMAT = _("Format - rtsp://ip:port or rtsp://domain:port")


def apply_service_errors(form: forms.Form, exc) -> None:
    """Put a service's ValidationError next to the fields it names (others at the top)."""
    if hasattr(exc, "error_dict"):
        for name, messages in exc.message_dict.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


class MacForm(forms.Form):
    mac = forms.CharField(
        label=_("MAC"), max_length=40,
        help_text=_("12 hexadecimal digits: 0C110512BC97, 0C:11:05:12:BC:97 or 0c-11-05-12-bc-97."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "0C110512BC97"}),
    )


class MacImportForm(forms.Form):
    file = forms.FileField(
        label=_("MAC template"),
        help_text=_("An .xlsx workbook (column A headed MAC, one MAC a row) or a .csv file with the same column."),
        widget=forms.ClearableFileInput(attrs={
            "accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv"}),
    )


class OnOffRadio(forms.RadioSelect):
    pass


def _on_off_field(label):
    return forms.TypedChoiceField(
        label=label, choices=[(OFF, _("Off")), (ON, _("On"))], coerce=lambda v: v == ON, empty_value=False,
        required=False, initial=OFF, widget=OnOffRadio,
    )


class DeviceForm(forms.Form):
    """Add Device / Edit Device. Relay rows: relay{n}_enabled, relay{n}_name, relay{n}_dtmf_code."""

    device_model = forms.TypedChoiceField(label=_("Device Type"), coerce=int)
    mac = forms.CharField(
        label=_("MAC"), max_length=40,
        help_text=_("A free MAC of your MAC Library; 0C110512BC97, 0C:11:05:12:BC:97 or 0c-11-05-12-bc-97."),
        widget=forms.TextInput(attrs={"list": "free-macs", "autocomplete": "off", "spellcheck": "false"}),
    )
    location = forms.CharField(label=_("Location"), max_length=64, required=False)
    security_relay = forms.BooleanField(
        label=_("Add Security Relay"), required=False,
        help_text=_("When the door phone is connected to an SR01 security relay for the door unlock control."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["device_model"].choices = [("", _("Select"))] + [
            (group, [(m.pk, m.name) for m in models]) for group, models in catalog_grouped()
        ]
        for n in range(1, MAX_RELAYS + 1):
            self.fields[f"relay{n}_enabled"] = _on_off_field(_("Relay %(n)d") % {"n": n})
            self.fields[f"relay{n}_name"] = forms.CharField(
                label=_("Relay Name"), max_length=64, required=False,
                widget=forms.TextInput(attrs={"placeholder": _("e.g. Front Door")}))
            self.fields[f"relay{n}_dtmf_code"] = forms.CharField(
                label=_("DTMF Code"), max_length=MAX_DTMF_LENGTH, required=False,
                widget=forms.TextInput(attrs={"list": "dtmf-codes", "class": "input-dtmf", "autocomplete": "off"}))

    def relay_rows(self):
        rows = []
        for n in range(1, MAX_RELAYS + 1):
            enabled, name, dtmf = (self[f"relay{n}_enabled"], self[f"relay{n}_name"], self[f"relay{n}_dtmf_code"])
            value_on = str(enabled.value()) in (ON, "True")
            filled = value_on or bool(name.value()) or bool(dtmf.value()) or bool(enabled.errors or name.errors
                                                                                   or dtmf.errors)
            rows.append({"n": n, "enabled": enabled, "name": name, "dtmf": dtmf, "filled": filled or n == 1})
        return rows

    def relays(self) -> list[dict]:
        data = self.cleaned_data
        return [{"index": n, "enabled": data.get(f"relay{n}_enabled", False), "name": data.get(f"relay{n}_name", ""),
                 "dtmf_code": data.get(f"relay{n}_dtmf_code", "")} for n in range(1, MAX_RELAYS + 1)]

    @classmethod
    def initial_for(cls, device) -> dict:
        initial = {"device_model": device.device_model_id, "mac": device.mac, "location": device.location,
                   "security_relay": device.security_relay}
        for relay in device.relays.all():
            initial[f"relay{relay.index}_enabled"] = ON if relay.enabled else OFF
            initial[f"relay{relay.index}_name"] = relay.name
            initial[f"relay{relay.index}_dtmf_code"] = relay.dtmf_code
        return initial


class CameraForm(forms.Form):
    location = forms.CharField(label=_("Location"), max_length=64, required=False)
    rtsp_url = forms.CharField(label=_("RTSP Address"), max_length=255, required=False, initial="rtsp://",
                               help_text=RTSP_FORMAT,
                               widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}))
    username = forms.CharField(label=_("Username"), max_length=64, required=False,
                               widget=forms.TextInput(attrs={"autocomplete": "off"}))
    password = forms.CharField(label=_("Password"), max_length=128, required=False, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    link_device = forms.TypedChoiceField(label=_("Link Device"), coerce=int, required=False, empty_value=None,
                                         help_text=LINK_DEVICE_NOTE)

    def __init__(self, *args, owner, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["link_device"].choices = [("", "--")] + [
            (d.pk, f"{d.location} ({d.mac}, {d.device_model.name})")
            for d in owner.devices.select_related("device_model").order_by("location", "pk")
        ]
        if editing:
            self.fields["password"].help_text = _("Leave empty to keep the current password.")

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        if self.editing and not data.get("password"):
            data.pop("password", None)
        return data


class DeviceDeleteForm(forms.Form):
    delete_mac = forms.BooleanField(label=_("Also delete its MAC from the MAC Library"), required=False)


class MacAssignForm(forms.Form):
    installer = forms.TypedChoiceField(label=_("Installer"), coerce=int)
    macs = forms.MultipleChoiceField(label=_("MAC"), required=False)

    def __init__(self, *args, installers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["installer"].choices = [("", _("Select"))] + [(i.pk, i.display_name) for i in installers]

    def clean_macs(self):
        return self.cleaned_data["macs"]

    def full_clean(self):
        # The MAC choices are whatever was ticked: the service checks them against the register.
        self.fields["macs"].choices = [(m, m) for m in (self.data.getlist("macs") if self.data else [])]
        super().full_clean()
