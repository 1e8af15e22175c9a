from django import forms
from django.utils.translation import gettext_lazy as _

from entryway.deviceapi.autop import autop_errors
from entryway.deviceapi.services import ONE_TIME, REGULAR, autop_line_message
from entryway.devices.choices import ConnectType, DeviceType

COMMANDS_HELP = _("One command per line: Config.<Module>.<Section>.<Key> = value. Lines starting with # are comments.")


def _check_lines(text: str) -> str:
    errors = autop_errors(text)
    if errors:
        raise forms.ValidationError([autop_line_message(e) for e in errors[:10]])
    return text


class DeviceSettingsForm(forms.Form):
    connect_type = forms.ChoiceField(label=_("Connect Type"), choices=ConnectType.choices)
    autop_commands = forms.CharField(label=_("Others"), required=False, help_text=COMMANDS_HELP, max_length=20000,
                                     strip=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}))

    def clean_autop_commands(self):
        return _check_lines(self.cleaned_data["autop_commands"])


class BatchAutopForm(forms.Form):
    mode = forms.ChoiceField(label=_("AutoP"), widget=forms.RadioSelect, initial=REGULAR,
                             choices=[(REGULAR, _("Regular AutoP")), (ONE_TIME, _("One Time AutoP"))])
    commands = forms.CharField(label=_("AutoP commands"), required=False, help_text=COMMANDS_HELP, max_length=20000,
                               strip=False, widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}))

    def clean_commands(self):
        return _check_lines(self.cleaned_data["commands"])


class PickerFilterForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), required=False, choices=[("", _("All")), *DeviceType.choices])
    q = forms.CharField(label=_("MAC"), required=False, max_length=17)
