from django import forms
from django.utils.translation import gettext as _

from entryway.sip.models import SipTrunk


class SipTrunkForm(forms.ModelForm):
    class Meta:
        model = SipTrunk
        fields = ["name", "host", "port", "transport", "enabled"]

    def clean_host(self):
        import re

        host = self.cleaned_data["host"].strip()
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\]", host):
            raise forms.ValidationError(_("Enter a host name or an IP address."))
        return host

    def clean_port(self):
        port = self.cleaned_data["port"]
        if not 1 <= port <= 65535:
            raise forms.ValidationError(_("A port is between 1 and 65535."))
        return port
