"""Forms of the portals. They shape the input; the services decide what is valid."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from entryway.core.validators import time_zone_names
from entryway.devices.choices import DeviceType

ON, OFF = "on", "off"


class OnOffField(forms.TypedChoiceField):
    """The guide's On / Off switch, giving a bool."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", True)
        super().__init__(choices=[(ON, _("On")), (OFF, _("Off"))], coerce=lambda v: v == ON,
                         widget=forms.RadioSelect, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, bool):
            return ON if value else OFF
        return value


def _time_zone_choices():
    return [(name, name) for name in time_zone_names()]


class NewAccountForm(forms.Form):
    """A new distributor (by the admin) or installer (by a distributor)."""

    username = forms.CharField(label=_("Username"), max_length=150)
    name = forms.CharField(label=_("Name"), max_length=128)
    email = forms.EmailField(label=_("Email"), help_text=_("The link to set a password is sent here."))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial="en",
                                 help_text=_("The language of the e-mail and of the portal."))
    time_zone = forms.ChoiceField(label=_("Time Zone"), choices=_time_zone_choices, initial="UTC")


class DeviceModelForm(forms.Form):
    name = forms.CharField(label=_("Model"), max_length=32)
    device_type = forms.ChoiceField(label=_("Device Type"), choices=DeviceType.choices)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    relay_count = forms.IntegerField(label=_("Relays"), min_value=0, max_value=4, initial=4)


class CustomerServiceForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone"), max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel",
                                      "placeholder": _("Residents can contact you through this phone number")}),
        help_text=_("International form, e.g. +44 20 7946 0958."))
    email = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"placeholder": _("Residents can contact you through this email address")}))

    def __init__(self, *args, audience: str = "resident", **kwargs):
        super().__init__(*args, **kwargs)
        if audience == "installer":
            self.fields["phone"].widget.attrs["placeholder"] = _("Installers can contact you through this phone number")
            self.fields["email"].widget.attrs["placeholder"] = _(
                "Installers can contact you through this email address")


class PermissionForm(forms.Form):
    permission_granted = OnOffField(label=_("Permission Granted"))


class AccountAccessForm(forms.Form):
    account_access_enabled = OnOffField(
        label=_("Account access"),
        help_text=_("When On, your installers can grant you permission to log in to their account without a "
                    "password, to help them."))


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    time_zone = forms.ChoiceField(label=_("Time Zone"), choices=_time_zone_choices)
    smart_home_url = forms.CharField(
        label=_("Smart home portal URL"), max_length=200, required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text=_("The Smart Home icon in the User list opens this address for users with Home AutoMation On."))

    def __init__(self, *args, with_smart_home: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_smart_home:
            del self.fields["smart_home_url"]


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Verification code"), max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}),
        help_text=_("The 6-digit code your authenticator app shows."))

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != 6 or not code.isdigit():
            raise ValidationError(_("Enter the 6 digits."))
        return code


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=120)
    body = forms.CharField(label=_("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields (unknown keys become form errors)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
