from __future__ import annotations

from django import forms
from django.utils.translation import gettext, gettext_lazy as _

from entryway.messaging.choices import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, ReceiverType

SEARCH_FIELDS = (("message", _("Message")), ("receiver", _("Receiver")))


class IdListField(forms.Field):
    """Checked receivers: a list of user ids. Whose users they are is the service's business."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        out = []
        for raw in value:
            try:
                number = int(raw)
            except (TypeError, ValueError):
                raise forms.ValidationError(_("%(value)s is not a user id.") % {"value": str(raw)[:20]})
            if number not in out:
                out.append(number)
        return out


class MessageForm(forms.Form):
    title = forms.CharField(label=_("Message Title"), max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(
        label=_("Message"), max_length=BODY_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6}))
    receiver_type = forms.ChoiceField(label=_("Receiver"), choices=ReceiverType.choices, initial=ReceiverType.BOTH,
                                      widget=forms.RadioSelect)
    receivers = IdListField(label=_("Receiver"), required=False)
    send_email = forms.BooleanField(
        label=_("Also send by e-mail"), required=False,
        help_text=_("A copy goes to each app user with an e-mail address, in their own language."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, limit in (("title", TITLE_MAX_LENGTH), ("body", BODY_MAX_LENGTH)):
            self.fields[name].help_text = gettext("%(max)s characters at most.") % {"max": limit}
            self.fields[name].widget.attrs.update({
                "data-char-limit": str(limit),
                "aria-describedby": f"id_{name}_helptext id_{name}_counter",
            })

    def clean_receivers(self):
        value = self.cleaned_data.get("receivers") or []
        if not value:
            raise forms.ValidationError(_("Select at least one receiver."))
        return value

    def selected_ids(self) -> list[int]:
        raw = self.data.getlist("receivers") if hasattr(self.data, "getlist") else []
        try:
            return self.fields["receivers"].to_python(raw)
        except forms.ValidationError:
            return []
